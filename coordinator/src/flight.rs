//! The agents' Arrow Flight service: `do_put` receives publications, `do_get` serves an
//! agency its own dataset's observations (current or at a store version), and the
//! `framework` action the framework in force ([`crate::framework_service`]). Analysts use the
//! Flight SQL service of [`crate::flightsql`] on their own port.

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

use crate::catalog::Catalog;
use crate::error::Error;
use crate::ingest::{receive, Ingest, Publisher};

/// How the agents' port identifies publishers.
#[derive(Clone)]
pub struct AgentsDoor {
    /// Revoked client-certificate fingerprints when the port runs mutual TLS; `None` without
    /// TLS.
    pub mtls: Option<Vec<String>>,
    /// Without TLS, accept publications and trust the manifest's agency (development only).
    pub insecure_plaintext_publish: bool,
}

/// The agents' Flight service.
pub struct SdgxFlight {
    ingest: Arc<Ingest>,
    catalog: Arc<Catalog>,
    door: AgentsDoor,
}

impl SdgxFlight {
    /// A service over the given ingest path and catalog.
    pub fn new(ingest: Arc<Ingest>, catalog: Arc<Catalog>, door: AgentsDoor) -> Self {
        SdgxFlight { ingest, catalog, door }
    }

    /// Who is calling, from the transport (client certificate).
    fn caller<T>(&self, request: &Request<T>) -> Result<Publisher, Status> {
        match &self.door {
            AgentsDoor { mtls: Some(revoked), .. } => {
                let certs = request.peer_certs().ok_or_else(|| Status::permission_denied("publications need a client certificate"))?;
                let leaf = certs.first().ok_or_else(|| Status::permission_denied("publications need a client certificate"))?;
                crate::pki::agency_of(leaf.as_ref(), revoked).map(Publisher::Agency).map_err(|why| {
                    tracing::warn!(reason = %why, "publication denied");
                    Status::permission_denied(why)
                })
            }
            AgentsDoor { mtls: None, insecure_plaintext_publish: true } => Ok(Publisher::Unverified),
            AgentsDoor { mtls: None, insecure_plaintext_publish: false } => Err(Status::permission_denied(
                "this coordinator accepts publications only over mutual TLS, and none is configured (security.tls)",
            )),
        }
    }
}

type Stream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

fn unsupported<T>(what: &str) -> Result<T, Status> {
    Err(Status::unimplemented(format!(
        "{what} is not offered by the sdgx coordinator's publication service: publish with do_put, read a dataset with do_get, fetch the framework with the action \"framework\""
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
        // A read-only replica takes no publication (nor dry run), whoever sends it.
        self.catalog.store().writable()?;
        let publisher = self.caller(&request)?;
        // Over mutual TLS, the client certificate the publication must be signed with.
        let certificate = match &self.door.mtls {
            Some(_) => request.peer_certs().and_then(|c| c.first().map(|leaf| leaf.as_ref().to_vec())),
            None => None,
        };
        let answer = receive(&self.ingest, &publisher, certificate.as_deref(), request.into_inner()).await?;
        let result = PutResult { app_metadata: answer.encode().into() };
        Ok(Response::new(Box::pin(stream::once(async { Ok(result) }))))
    }

    async fn do_get(&self, request: Request<Ticket>) -> Result<Response<Self::DoGetStream>, Status> {
        let caller = self.caller(&request)?;
        let ticket = TicketRequest::decode(request.get_ref()).map_err(Error::from)?;
        let TicketRequest::Dataset { agency, dataset, as_of } = ticket;
        if let Publisher::Agency(a) = &caller
            && *a != agency {
                return Err(Status::permission_denied(format!("agency {a:?} may read only its own datasets, not {agency:?}'s")));
            }
        // An agency reads back what it published: the provisional view.
        let read = crate::catalog::Read { view: crate::signoff::View::Provisional, as_of: as_of.map(crate::catalog::AsOf::Version) };
        let session = self.catalog.tables(&self.catalog.pin(&read).await?).await?;
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

    async fn handshake(&self, _: Request<Streaming<HandshakeRequest>>) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(Status::unimplemented("agents authenticate with their client certificate; tokens are for the analysts' Flight SQL port"))
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
    async fn do_action(&self, request: Request<Action>) -> Result<Response<Self::DoActionStream>, Status> {
        let kind = &request.get_ref().r#type;
        if kind != sdgx_schemas::flight::FRAMEWORK_ACTION {
            return unsupported(&format!("the action {kind:?}"));
        }
        let caller = self.caller(&request)?;
        crate::framework_service::authorize(&self.ingest.registry, &caller)?;
        let body = crate::framework_service::bundle(&self.ingest.contract).encode();
        let result = arrow_flight::Result { body: body.into() };
        Ok(Response::new(Box::pin(stream::once(async { Ok(result) }))))
    }
    async fn list_actions(&self, _: Request<Empty>) -> Result<Response<Self::ListActionsStream>, Status> {
        let actions = stream::iter([Ok::<_, Status>(crate::framework_service::action_type())]);
        Ok(Response::new(Box::pin(actions) as BoxStream<'static, _>))
    }
    async fn do_exchange(&self, _: Request<Streaming<FlightData>>) -> Result<Response<Self::DoExchangeStream>, Status> {
        unsupported("do_exchange")
    }
}
