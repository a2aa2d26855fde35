#!/bin/sh
# sdgx-pki-init: the one-shot `pki` service of docker-compose.yml. On first start it creates
# the national CA, the coordinator's server certificate, one client certificate per agency and
# the API tokens; on later starts it only adds what is missing (a new agency), so certificates
# and tokens survive restarts. Never prints a key or a token.
#   /ca            (volume ca)            the CA's key, every issued certificate, the analysts'
#                                         reader token (tokens/analyst.token) and the sign-off
#                                         approver's token (tokens/approver.token): the NSO's vault
#   /pki           (volume pki)           what the coordinator needs: ca.pem, server.pem,
#                                         server.key, signing.pem, signing.key (its log-signing
#                                         key), tokens.toml (token hashes only)
#   /certs/<agency> (volume certs-<agency>) what that agency's agent needs: ca.pem, agent.pem,
#                                         agent.key, api.token (its calendar token)
# Settings (environment): SDGX_PKI_NAMES, the coordinator's DNS names and addresses for its
# certificate (space-separated; default "coordinator localhost 127.0.0.1"); SDGX_PKI_AGENCIES,
# the agencies to issue for (space-separated). Files end up owned by uid 10001 (the user sdgx
# the services run as) and readable by it only.
set -eu
names="${SDGX_PKI_NAMES:-coordinator localhost 127.0.0.1}"
agencies="${SDGX_PKI_AGENCIES:?set SDGX_PKI_AGENCIES to the agencies to issue certificates for}"
owner="${SDGX_PKI_OWNER:-10001:10001}"
umask 077
mkdir -p /ca/tokens /pki
if [ ! -s /ca/ca.pem ]; then
  set --
  for n in $names; do set -- "$@" --name "$n"; done
  sdgx-coordinator ca init --dir /ca "$@"
fi
# A CA made before the coordinator signed its log gets its signing certificate.
[ -s /ca/signing.key ] || sdgx-coordinator ca issue-signer --dir /ca
cp /ca/ca.pem /ca/server.pem /ca/server.key /ca/signing.pem /ca/signing.key /pki/
touch /pki/tokens.toml
if [ ! -s /ca/tokens/analyst.token ]; then
  # A reader token for the analysts (Flight SQL, HTTP API, dashboard): the secret goes to the
  # vault only, its hash to the coordinator's token file.
  sdgx-coordinator token create --role reader --name analyst --file /pki/tokens.toml 2>/dev/null >/ca/tokens/analyst.token.part
  mv /ca/tokens/analyst.token.part /ca/tokens/analyst.token
  echo "created the analysts' reader token (in the ca volume: tokens/analyst.token)"
fi
if [ ! -s /ca/tokens/approver.token ]; then
  # The statistical office's approver (reviews, approves and releases publications: sign-off).
  sdgx-coordinator token create --role approver --name approver --file /pki/tokens.toml 2>/dev/null >/ca/tokens/approver.token.part
  mv /ca/tokens/approver.token.part /ca/tokens/approver.token
  echo "created the approver's token (in the ca volume: tokens/approver.token)"
fi
for a in $agencies; do
  if [ ! -s "/ca/agents/$a.pem" ]; then
    sdgx-coordinator ca issue-agent --dir /ca --agency "$a"
  fi
  if [ -d "/certs/$a" ]; then
    cp /ca/ca.pem "/certs/$a/ca.pem"
    cp "/ca/agents/$a.pem" "/certs/$a/agent.pem"
    cp "/ca/agents/$a.key" "/certs/$a/agent.key"
    if [ ! -s "/certs/$a/api.token" ]; then
      sdgx-coordinator token create --role agency --name "$a" --file /pki/tokens.toml 2>/dev/null >"/certs/$a/api.token.part"
      mv "/certs/$a/api.token.part" "/certs/$a/api.token"
      echo "created agency $a's API token (in its certs volume: api.token)"
    fi
  fi
done
chown -R "$owner" /ca /pki /certs 2>/dev/null || chown -R "$owner" /ca /pki
chmod -R u+rwX,go-rwx /ca /pki
[ -d /certs ] && chmod -R u+rwX,go-rwx /certs
echo "pki ready: coordinator names: $names; agencies: $agencies"
