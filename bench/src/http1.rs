//! The accept loop of the bare-hyper binaries (`bench-upstream`,
//! `minimal-bff`): HTTP/1.1 with keep-alive, one task per connection, no
//! timeouts, no graceful shutdown (the benchmark kills them). The BFFs under
//! test use `bff_shared::serve` instead.

use std::convert::Infallible;
use std::future::Future;
use std::process::ExitCode;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// A binary's whole life: `runtime` (as built by the caller), `listen`
/// bound, then [`serve`] until the process is killed. A failure to start
/// is one line on stderr, named after the binary, and a failing exit.
pub fn run<F, Fut>(name: &str, runtime: std::io::Result<tokio::runtime::Runtime>, listen: &str, handle: F) -> ExitCode
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{name}: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match TcpListener::bind(listen).await {
            Ok(listener) => {
                serve(listener, handle).await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{name}: cannot listen on {listen}: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Serves `handle` on every connection `listener` accepts, until the
/// process is killed. Accept errors (say, out of file descriptors) are
/// retried after a short pause rather than ending the server.
pub async fn serve<F, Fut>(listener: TcpListener, handle: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        // Small answers: do not let Nagle hold them back.
        let _ = stream.set_nodelay(true);
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let answer = handle(request);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            // A client that goes away mid-request is not an error here.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
