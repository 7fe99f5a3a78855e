//! A TCP proxy the test owns, standing between the server and its database, so that a test can take the database
//! away (every open connection dropped, new ones refused as by a stopped server) and bring it back on the same
//! port, without touching the real database server other tests share.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// Forwards connections from `127.0.0.1:<port>` to an upstream address while it is up.
pub(crate) struct TcpProxy {
    address: SocketAddr,
    upstream: String,
    running: Option<Forwarding>,
}

/// The accept loop of an up proxy, and how to stop it.
struct Forwarding {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// A proxy on a free port of 127.0.0.1 forwarding to `upstream` (`host:port`), already up.
    pub(crate) async fn start(upstream: String) -> Self {
        let listener = listen("127.0.0.1:0".parse().expect("an address")).expect("binding the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let mut proxy = Self { address, upstream, running: None };
        proxy.serve(listener);
        proxy
    }

    pub(crate) fn port(&self) -> u16 {
        self.address.port()
    }

    /// Takes the upstream away: closes the listener, so that connecting is refused, and drops every open
    /// connection on both sides. Returns once all of it is closed.
    pub(crate) async fn cut(&mut self) {
        let Forwarding { stop, task } = self.running.take().expect("the proxy is up");
        // The loop may have ended by itself only if accepting failed, which the task's panic reports.
        let _ = stop.send(());
        task.await.expect("the proxy's accept loop");
    }

    /// Brings the upstream back on the same port.
    pub(crate) fn restore(&mut self) {
        assert!(self.running.is_none(), "the proxy is already up");
        // SO_REUSEADDR lets the port be bound again while the connections just closed sit in TIME_WAIT.
        let listener = listen(self.address).unwrap_or_else(|error| panic!("binding {} again: {error}", self.address));
        self.serve(listener);
    }

    fn serve(&mut self, listener: TcpListener) {
        let (stop, mut stopped) = oneshot::channel();
        let upstream = self.upstream.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let (client, _) = accepted.expect("accepting a connection");
                        connections.spawn(forward(client, upstream.clone()));
                    }
                    // Reaps finished connections, so the set does not grow for the life of the proxy.
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            drop(listener);
            // Aborts every forwarding task and waits until each has dropped both of its sockets.
            connections.shutdown().await;
        });
        self.running = Some(Forwarding { stop, task });
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(forwarding) = self.running.take() {
            forwarding.task.abort();
        }
    }
}

fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(128)
}

/// Copies bytes both ways until either side closes; an upstream that cannot be reached closes the client.
async fn forward(mut client: TcpStream, upstream: String) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
