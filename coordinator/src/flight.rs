//! The Arrow Flight service: `do_put` receives publications, `do_get` serves a dataset's
//! observations (current or at a store version).

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo, HandshakeRequest, HandshakeResponse,
    PollInfo, PutResult, SchemaResult, Ticket,
};
use futures::stream::{self, BoxStream};
use futures::TryStreamExt;
use sdgx_schemas::flight::TicketRequest;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::{FailureLimiter, Tokens};
use crate::catalog::Catalog;
use crate::error::Error;
use crate::ingest::{receive, Ingest, Publisher};

/// Which door a Flight service is.
#[derive(Clone)]
pub enum Door {
    /// The agents' port: callers are agencies, identified by their client certificate.
    Agents {
        /// Revoked client-certificate fingerprints when the port runs mutual TLS; `None`
        /// without TLS.
        mtls: Option<Vec<String>>,
        /// Without TLS, accept publications and trust the manifest's agency (development only).
        insecure_plaintext_publish: bool,
    },
    /// The analysts' port: callers are token holders (handshake, then a per-call
    /// `authorization: Bearer <token>` header).
    Analysts {
        /// The tokens in force.
        tokens: Arc<Tokens>,
        /// The failed-authentication limiter.
        limiter: Arc<FailureLimiter>,
    },
}

/// The coordinator's Flight service.
pub struct SdgxFlight {
    ingest: Arc<Ingest>,
    catalog: Arc<Catalog>,
    door: Door,
}

/// Who is calling.
enum Caller {
    Publisher(Publisher),
    Analyst,
}

fn bearer<T>(request: &Request<T>) -> Option<String> {
    let v = request.metadata().get("authorization")?.to_str().ok()?;
    if let Some(t) = v.strip_prefix("Bearer ") {
        return Some(t.trim().to_owned());
    }
    // Basic auth, as pyarrow's authenticate_basic_token sends it: the password is the token.
    let decoded = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, v.strip_prefix("Basic ")?.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split_once(':').map_or(text.clone(), |(_, p)| p.to_owned()))
}

impl SdgxFlight {
    /// A service over the given ingest path and catalog, as `door`.
    pub fn new(ingest: Arc<Ingest>, catalog: Arc<Catalog>, door: Door) -> Self {
        SdgxFlight { ingest, catalog, door }
    }

    /// Who is calling, from the transport (client certificate) or the bearer token.
    fn caller<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        match &self.door {
            Door::Agents { mtls: Some(revoked), .. } => {
                let certs = request.peer_certs().ok_or_else(|| Status::permission_denied("publications need a client certificate"))?;
                let leaf = certs.first().ok_or_else(|| Status::permission_denied("publications need a client certificate"))?;
                crate::pki::agency_of(leaf.as_ref(), revoked).map(|a| Caller::Publisher(Publisher::Agency(a))).map_err(|why| {
                    tracing::warn!(reason = %why, "publication denied");
                    Status::permission_denied(why)
                })
            }
            Door::Agents { mtls: None, insecure_plaintext_publish: true } => Ok(Caller::Publisher(Publisher::Unverified)),
            Door::Agents { mtls: None, insecure_plaintext_publish: false } => Err(Status::permission_denied(
                "this coordinator accepts publications only over mutual TLS, and none is configured (security.tls)",
            )),
            Door::Analysts { tokens, limiter } => {
                let ip = request.remote_addr().map(|a| a.ip());
                if ip.is_some_and(|ip| limiter.blocked(ip)) {
                    return Err(Status::resource_exhausted("too many failed authentication attempts from this address; try again later"));
                }
                match bearer(request).as_deref().and_then(|t| tokens.authenticate(t)) {
                    Some(_) => Ok(Caller::Analyst),
                    None => {
                        if let Some(ip) = ip {
                            limiter.failed(ip);
                        }
                        Err(Status::unauthenticated("send a valid token: handshake, then the header authorization: Bearer <token>"))
                    }
                }
            }
        }
    }
}

type Stream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

fn unsupported<T>(what: &str) -> Result<T, Status> {
    Err(Status::unimplemented(format!(
        "{what} is not offered by the sdgx coordinator's publication service: publish with do_put, read a dataset with do_get"
    )))
}

#[tonic::async_trait]
impl FlightService for SdgxFlight {
    type HandshakeStream = Stream<HandshakeResponse>;
    type ListFlightsStream = Stream<FlightInfo>;
    type DoGetStream = Stream<FlightData>;
    type DoPutStream = Stream<PutResult>;
    type DoActionStream = Stream<arrow_flight::Result>;
    type ListActionsStream = Stream<ActionType>;
    type DoExchangeStream = Stream<FlightData>;

    async fn do_put(&self, request: Request<Streaming<FlightData>>) -> Result<Response<Self::DoPutStream>, Status> {
        let publisher = match self.caller(&request)? {
            Caller::Publisher(p) => p,
            Caller::Analyst => return Err(Status::permission_denied("publications go to the agents' Flight port, with mutual TLS")),
        };
        let ack = receive(&self.ingest, &publisher, request.into_inner()).await?;
        let result = PutResult { app_metadata: ack.encode().into() };
        Ok(Response::new(Box::pin(stream::once(async { Ok(result) }))))
    }

    async fn do_get(&self, request: Request<Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        let caller = self.caller(&request)?;
        let ticket = TicketRequest::decode(request.get_ref()).map_err(Error::from)?;
        let TicketRequest::Dataset { agency, dataset, as_of } = ticket;
        if let Caller::Publisher(Publisher::Agency(a)) = &caller
            && *a != agency {
                return Err(Status::permission_denied(format!("agency {a:?} may read only its own datasets, not {agency:?}'s")));
            }
        let session = self.catalog.tables(as_of).await?;
        let df = session
            .ctx
            .table("observations")
            .await
            .and_then(|t| {
                use datafusion::prelude::{col, lit};
                t.filter(col("agency").eq(lit(agency)).and(col("dataset").eq(lit(dataset))))
            })
            .map_err(Error::from)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.execute_stream().await.map_err(Error::from)?;
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches.map_err(|e| arrow_flight::error::FlightError::ExternalError(Box::new(e))))
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn handshake(&self, request: Request<Streaming<HandshakeRequest>>) -> Result<Response<Self::HandshakeStream>, Status> {
        if let Door::Agents { .. } = self.door {
            return Err(Status::unimplemented("agents authenticate with their client certificate; tokens are for the analysts' port"));
        }
        let Door::Analysts { tokens, limiter } = &self.door else { unreachable!("checked above") };
        let ip = request.remote_addr().map(|a| a.ip());
        if ip.is_some_and(|ip| limiter.blocked(ip)) {
            return Err(Status::resource_exhausted("too many failed authentication attempts from this address; try again later"));
        }
        // The token comes in the authorization header (Bearer, or Basic with the token as the
        // password), or as the first message's payload.
        let mut token = bearer(&request);
        if token.is_none() {
            let mut stream = request.into_inner();
            if let Some(Ok(first)) = futures::StreamExt::next(&mut stream).await {
                token = String::from_utf8(first.payload.to_vec()).ok();
            }
        }
        let Some(token) = token.filter(|t| tokens.authenticate(t).is_some()) else {
            if let Some(ip) = ip {
                limiter.failed(ip);
            }
            return Err(Status::unauthenticated("the token is not valid"));
        };
        let reply = HandshakeResponse { protocol_version: 0, payload: token.clone().into_bytes().into() };
        let mut response = Response::new(Box::pin(stream::once(async { Ok(reply) })) as Self::HandshakeStream);
        let header = format!("Bearer {token}").parse().map_err(|_| Status::unauthenticated("the token is not valid"))?;
        response.metadata_mut().insert("authorization", header);
        Ok(response)
    }
    async fn list_flights(&self, _: Request<Criteria>) -> Result<Response<Self::ListFlightsStream>, Status> {
        unsupported("list_flights")
    }
    async fn get_flight_info(&self, _: Request<FlightDescriptor>) -> Result<Response<FlightInfo>, Status> {
        unsupported("get_flight_info")
    }
    async fn poll_flight_info(&self, _: Request<FlightDescriptor>) -> Result<Response<PollInfo>, Status> {
        unsupported("poll_flight_info")
    }
    async fn get_schema(&self, _: Request<FlightDescriptor>) -> Result<Response<SchemaResult>, Status> {
        unsupported("get_schema")
    }
    async fn do_action(&self, _: Request<Action>) -> Result<Response<Self::DoActionStream>, Status> {
        unsupported("do_action")
    }
    async fn list_actions(&self, _: Request<Empty>) -> Result<Response<Self::ListActionsStream>, Status> {
        Ok(Response::new(Box::pin(stream::empty::<Result<ActionType, Status>>()) as BoxStream<'static, _>))
    }
    async fn do_exchange(&self, _: Request<Streaming<FlightData>>) -> Result<Response<Self::DoExchangeStream>, Status> {
        unsupported("do_exchange")
    }
}
