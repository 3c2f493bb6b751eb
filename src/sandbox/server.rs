//! The HTTP side of the simulator (hyper 1, HTTP/1.1): the accept loop,
//! routing, reading parameters from the query string and the form body,
//! the latency wait, and turning a [`Reply`] into a response, or into a
//! closed connection. The `huge` reply's body ([`Huge`]) is made chunk by
//! chunk as hyper sends it, so the sandbox never holds more than one.
//!
//! Routes: the two API paths (GET or POST), `GET /__stats`, and 404 for
//! anything else. What a request gets is decided in `decide`; this file
//! only carries it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::cipher::Decryptor;
use super::config::SandboxConfig;
use super::decide::{self, Query, Reply};
use super::envelope;
use super::route::Route;
use super::script::HUGE_BODY_BYTES;
use super::stats::{Counted, Ledger};

/// The path that serves [`Stats`](super::Stats) as JSON.
pub(crate) const STATS_PATH: &str = "/__stats";

/// The largest request body read; the API's two parameters fit in far less.
const MAX_BODY: usize = 64 * 1024;

/// What every connection shares.
pub(crate) struct Shared {
    pub config: SandboxConfig,
    pub decryptor: Decryptor,
    pub ledger: Mutex<Ledger>,
}

impl Shared {
    /// The ledger, even after a panic elsewhere while it was held: it only
    /// holds counters, which stay meaningful.
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The error a handler returns to make hyper close the connection without
/// an answer: the dropped-connection fault.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for Dropped {}

type Answer = Response<Either<Full<Bytes>, Huge>>;

/// Accepts connections forever; each is served on its own task.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors or a connection reset before it was
                // accepted: back off a moment and keep serving.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(Arc::clone(&shared), request));
            // An error here is the client's (a reset, a malformed request) or
            // a dropped-connection fault: either way the connection is done.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Answer, Dropped> {
    let route = match request.uri().path() {
        STATS_PATH if request.method() == Method::GET => return Ok(stats(&shared)),
        STATS_PATH => return Ok(status_page(StatusCode::METHOD_NOT_ALLOWED)),
        path => match Route::of(path) {
            Some(route) => route,
            None => return Ok(status_page(StatusCode::NOT_FOUND)),
        },
    };
    let arrived = Instant::now();
    let method = request.method().clone();
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let arrival = shared
        .ledger()
        .arrive(&shared.config, arrived, method.as_str(), &target);

    let params = read_params(request).await;
    tokio::time::sleep(arrival.delay).await;

    let reply = match params {
        Err(ParamsError::Broken) => return Err(Dropped),
        Err(ParamsError::TooLarge) => http_only(&shared, StatusCode::PAYLOAD_TOO_LARGE),
        Ok(_) if method != Method::GET && method != Method::POST => {
            http_only(&shared, StatusCode::METHOD_NOT_ALLOWED)
        }
        Ok(params) => {
            let query = Query {
                route,
                key: params.values.get("key").map(String::as_str),
                mobile: params.values.get("mobile").map(String::as_str),
                raw: &params.raw,
            };
            let mut ledger = shared.ledger();
            let (reply, counted) = decide::decide(
                &shared.config,
                &shared.decryptor,
                &ledger,
                &query,
                arrival.rate_limited,
            );
            ledger.record(&counted);
            reply
        }
    };
    render(reply)
}

/// Counts and answers a request that never reaches the API's logic.
fn http_only(shared: &Shared, status: StatusCode) -> Reply {
    shared.ledger().record(&Counted {
        code: format!("http_{}", status.as_u16()),
        number: None,
        billed: false,
        plaintext_on_encrypted: false,
        orderid: None,
    });
    Reply::Http(status.as_u16())
}

enum ParamsError {
    /// The body is over [`MAX_BODY`]: answered HTTP 413.
    TooLarge,
    /// The client went away mid-body.
    Broken,
}

/// A request's parameters, and the request as a proxy would echo it.
struct Params {
    values: HashMap<String, String>,
    /// The raw body (lossily UTF-8), or the query string when it is empty.
    raw: String,
}

/// The request's parameters: the form body's (a POST with no content type
/// or `application/x-www-form-urlencoded`), then the query string's for any
/// name the body lacks. The first occurrence of a name wins.
async fn read_params(request: Request<Incoming>) -> Result<Params, ParamsError> {
    let mut params = HashMap::new();
    let query = request.uri().query().unwrap_or("").to_owned();
    let is_form = request.headers().get(CONTENT_TYPE).is_none_or(|value| {
        value.to_str().is_ok_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
    });
    let body = Limited::new(request.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(
            |error| match error.downcast_ref::<http_body_util::LengthLimitError>() {
                Some(_) => ParamsError::TooLarge,
                None => ParamsError::Broken,
            },
        )?
        .to_bytes();
    if is_form {
        for (name, value) in url::form_urlencoded::parse(&body) {
            params
                .entry(name.into_owned())
                .or_insert_with(|| value.into_owned());
        }
    }
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        params
            .entry(name.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    let raw = if body.is_empty() {
        query
    } else {
        String::from_utf8_lossy(&body).into_owned()
    };
    Ok(Params {
        values: params,
        raw,
    })
}

fn render(reply: Reply) -> Result<Answer, Dropped> {
    match reply {
        Reply::Json(body) => Ok(with_body(
            StatusCode::OK,
            "application/json;charset=utf-8",
            body,
        )),
        Reply::Garbage { content_type, body } => Ok(with_body(StatusCode::OK, content_type, body)),
        Reply::Http(status) => Ok(status_page(
            // Invariant: scripts allow only 400–599; faults and refusals use
            // fixed statuses.
            StatusCode::from_u16(status).expect("every status the sandbox sends is valid"),
        )),
        Reply::Huge => {
            let mut response = Response::new(Either::Right(Huge::new(HUGE_BODY_BYTES)));
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=utf-8"),
            );
            Ok(response)
        }
        Reply::Drop => Err(Dropped),
    }
}

fn stats(shared: &Shared) -> Answer {
    let json = serde_json::to_string(shared.ledger().stats())
        .expect("Stats is strings, integers and maps with string keys: it always serialises");
    with_body(StatusCode::OK, "application/json", json)
}

/// An nginx-style HTML page for an error status.
fn status_page(status: StatusCode) -> Answer {
    let phrase = status.canonical_reason().unwrap_or("Error");
    let body = envelope::http_error_page(status.as_u16(), phrase);
    with_body(status, "text/html", body)
}

fn with_body(status: StatusCode, content_type: &'static str, body: String) -> Answer {
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The `huge` body: `remaining` bytes of `a`, one shared 64 KiB chunk at a
/// time, made as hyper asks for them (so only as fast as the client reads)
/// and announced with its exact length.
pub(crate) struct Huge {
    remaining: u64,
}

/// The chunk every frame of [`Huge`] slices.
static A_CHUNK: [u8; 64 * 1024] = [b'a'; 64 * 1024];

impl Huge {
    fn new(len: u64) -> Self {
        Huge { remaining: len }
    }
}

impl Body for Huge {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        // Lossless: the chunk's length bounds it.
        let len = self.remaining.min(A_CHUNK.len() as u64) as usize;
        self.remaining -= len as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&A_CHUNK[..len])))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_huge_body_is_its_length_of_a() {
        let len = 3 * A_CHUNK.len() as u64 + 5;
        let body = Huge::new(len);
        assert_eq!(body.size_hint().exact(), Some(len));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a bare runtime builds");
        let bytes = runtime
            .block_on(body.collect())
            .expect("the body is infallible")
            .to_bytes();
        assert_eq!(bytes.len() as u64, len);
        assert!(bytes.iter().all(|&b| b == b'a'));
    }
}
