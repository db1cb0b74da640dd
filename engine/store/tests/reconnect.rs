//! The writer and a PostgreSQL connection that breaks (ADR 0028): a commit whose
//! acknowledgement is lost is found again by its event ids — the append succeeds with its
//! positions and nothing is written twice — and a connection the server closed while idle is
//! replaced before the next append fails. Only this test's own database and connections are
//! touched (a proxy of its own on loopback; `pg_terminate_backend` on its own database).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use leadorch_store::{
    Db, ExpectedVersion, MasterKey, Metadata, NewEvent, RetentionPolicy, Store, Verification,
};
use leadorch_test_support::TestDb;
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn open(url: &str) -> Store {
    let db = Db::connect(url).await.expect("connect");
    Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
        .await
        .expect("open store")
}

fn ev(n: u32) -> NewEvent {
    NewEvent::new(
        "Tested",
        "1.0",
        format!("{{\"n\":{n}}}").into_bytes(),
        &Metadata::actor("test"),
    )
}

/// A TCP proxy to the server that, once armed, passes a client's `COMMIT` to the server,
/// waits for the server's whole answer to it and closes the connection without passing that
/// answer on: a commit that happened, whose acknowledgement is lost. Every other connection
/// and message passes through.
///
/// It reads the PostgreSQL protocol, not bytes: sqlx sends `sqlx::query("COMMIT")` as a
/// prepared statement (Parse and Describe the first time, which executes nothing, then Bind
/// and Execute by the statement's name, without its text), so a COMMIT is recognised where
/// it is executed — an Execute of a portal bound to a statement whose text is COMMIT, or a
/// simple Query of it — and messages are reassembled across reads. The proxy declines
/// encryption itself: with sqlx's TLS on (the workspace's feature unification turns it on)
/// and a server that offers TLS, the session would otherwise be unreadable.
struct Proxy {
    addr: SocketAddr,
    armed: Arc<AtomicBool>,
    /// Connections cut after the server answered a COMMIT.
    cut: Arc<AtomicUsize>,
    /// The command tags of the answers that were withheld ("COMMIT": the server committed).
    withheld: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let armed = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(AtomicUsize::new(0));
        let withheld = Arc::new(Mutex::new(Vec::new()));
        let (a, c, w) = (armed.clone(), cut.clone(), withheld.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (a, c, w) = (a.clone(), c.clone(), w.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pipe(client, server, a, c, w).await;
                    }
                });
            }
        });
        Proxy {
            addr,
            armed,
            cut,
            withheld,
        }
    }
}

/// `SSLRequest` and `GSSENCRequest`: the codes in place of a startup packet's protocol version.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

/// Whole protocol messages from one side of a connection, however the bytes arrived.
struct Messages<R> {
    read: R,
    pending: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Messages<R> {
    fn new(read: R) -> Self {
        Messages {
            read,
            pending: Vec::new(),
        }
    }

    /// The next whole message: a type byte and an int32 length counting itself, then the body
    /// (`typed`), or, before and during startup, only the length and the body. `None` at the
    /// end of the stream or on a malformed length.
    async fn next(&mut self, typed: bool) -> Option<Vec<u8>> {
        let at = usize::from(typed);
        loop {
            if let Some(len) = self.pending.get(at..at + 4) {
                let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
                if len < 4 {
                    return None;
                }
                if self.pending.len() >= at + len {
                    return Some(self.pending.drain(..at + len).collect());
                }
            }
            self.pending.reserve(16 * 1024);
            match self.read.read_buf(&mut self.pending).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

/// A NUL-terminated string at the start of `bytes`, and what follows it.
fn cstr(bytes: &[u8]) -> (String, &[u8]) {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let rest = bytes.get(end + 1..).unwrap_or(&[]);
    (String::from_utf8_lossy(&bytes[..end]).into_owned(), rest)
}

/// Whether a statement's text is a COMMIT (`COMMIT`, `commit;`, `END`, `COMMIT WORK`, …).
fn is_commit(sql: &str) -> bool {
    let sql = sql.trim().trim_end_matches(';').to_ascii_lowercase();
    let words: Vec<&str> = sql.split_whitespace().collect();
    matches!(
        words.as_slice(),
        ["commit" | "end"] | ["commit" | "end", "work" | "transaction"]
    )
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    armed: Arc<AtomicBool>,
    cut: Arc<AtomicUsize>,
    withheld: Arc<Mutex<Vec<String>>>,
) {
    // Messages are passed on one by one: no waiting to coalesce small writes.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, mut client_write) = client.into_split();
    let (server_read, mut server_write) = server.into_split();
    let mut client = Messages::new(client_read);

    // Startup: untyped packets. Encryption is declined here, by the proxy (the client goes
    // on in plain text, which sqlx's default `sslmode=prefer` does), so every later message
    // can be read whatever the server supports.
    loop {
        let Some(packet) = client.next(false).await else {
            return;
        };
        let code = packet
            .get(4..8)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()));
        if matches!(code, Some(SSL_REQUEST | GSSENC_REQUEST)) {
            if client_write.write_all(b"N").await.is_err() {
                return;
            }
            continue;
        }
        // The startup message (or a CancelRequest, after which the client sends nothing).
        if server_write.write_all(&packet).await.is_err() {
            return;
        }
        break;
    }

    // The server's messages go to the client until a COMMIT is being cut; from then on they
    // are read and kept back, up to the ReadyForQuery that ends the COMMIT's answer.
    let cutting = Arc::new(AtomicBool::new(false));
    let silent = cutting.clone();
    let mut answers = tokio::spawn(async move {
        let mut server = Messages::new(server_read);
        let mut tags = Vec::new();
        while let Some(msg) = server.next(true).await {
            // Checked after each message is read: one read before the flag was set cannot
            // answer the COMMIT, which goes to the server only once the flag is set.
            if silent.load(Ordering::SeqCst) {
                match msg[0] {
                    b'C' => tags.push(cstr(&msg[5..]).0),
                    b'E' => tags.push("ERROR".to_string()),
                    b'Z' => return (Some(tags), client_write),
                    _ => {}
                }
                continue;
            }
            if client_write.write_all(&msg).await.is_err() {
                break;
            }
        }
        (None, client_write)
    });

    // name -> text of the client's prepared statements ("" is the unnamed one), and
    // portal -> text of the statement it was bound to.
    let mut statements: HashMap<String, String> = HashMap::new();
    let mut portals: HashMap<String, Option<String>> = HashMap::new();
    let mut cutting_now = false;
    while let Some(msg) = client.next(true).await {
        let (kind, body) = (msg[0], &msg[5..]);
        let mut executes_commit = false;
        match kind {
            // Parse: statement name, query text, parameter types.
            b'P' => {
                let (name, rest) = cstr(body);
                statements.insert(name, cstr(rest).0);
            }
            // Bind: portal name, statement name, parameters.
            b'B' => {
                let (portal, rest) = cstr(body);
                let statement = cstr(rest).0;
                portals.insert(portal, statements.get(&statement).cloned());
            }
            // Execute: portal name, row limit.
            b'E' => {
                let portal = cstr(body).0;
                executes_commit = matches!(portals.get(&portal), Some(Some(sql)) if is_commit(sql));
            }
            // Query: the text itself.
            b'Q' => {
                executes_commit = is_commit(&cstr(body).0);
                portals.remove("");
            }
            // Close: 'S'tatement or 'P'ortal, and its name.
            b'C' => {
                let name = cstr(body.get(1..).unwrap_or(&[])).0;
                match body.first() {
                    Some(b'S') => {
                        statements.remove(&name);
                    }
                    Some(b'P') => {
                        portals.remove(&name);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if executes_commit && !cutting_now && armed.swap(false, Ordering::SeqCst) {
            // Before the COMMIT goes out: its answer is never passed on.
            cutting.store(true, Ordering::SeqCst);
            cutting_now = true;
        }
        if server_write.write_all(&msg).await.is_err() {
            break;
        }
        // The COMMIT is all with the server (a simple Query, or everything up to the Sync
        // that follows its Execute): wait for the server to finish answering it — it has
        // committed — then the client's connection goes, unanswered.
        if cutting_now && matches!(kind, b'S' | b'Q') {
            let answered = tokio::time::timeout(Duration::from_secs(60), &mut answers).await;
            if let Ok(Ok((Some(tags), client_write))) = answered {
                withheld.lock().unwrap().extend(tags);
                cut.fetch_add(1, Ordering::SeqCst);
                drop(client_write);
            }
            break;
        }
    }
    answers.abort();
}

/// `host:port` of a `postgres://user@host:port/db` URL, and the URL with another address.
fn via(url: &str, addr: SocketAddr) -> (SocketAddr, String) {
    let rest = url.split_once("@").map(|(_, r)| r).unwrap();
    let (hostport, db) = rest.split_once('/').unwrap();
    let upstream = std::net::ToSocketAddrs::to_socket_addrs(hostport)
        .unwrap()
        .next()
        .unwrap();
    let user = url.split_once("@").unwrap().0;
    (upstream, format!("{user}@{addr}/{db}"))
}

#[tokio::test]
async fn a_commit_whose_acknowledgement_is_lost_is_found_by_its_ids_not_written_twice() {
    let t = TestDb::postgres().await;
    // The schema first, straight to the server (migrations commit too).
    drop(open(&t.url).await);
    let placeholder: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let (upstream, _) = via(&t.url, placeholder);
    let proxy = Proxy::start(upstream).await;
    let (_, url) = via(&t.url, proxy.addr);
    let store = open(&url).await;

    // The writer's first COMMIT reaches the server, its answer never comes back.
    proxy.armed.store(true, Ordering::SeqCst);
    let events = vec![ev(1), ev(2)];
    let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
    let appended = store
        .log
        .append("lead:a", ExpectedVersion::NoStream, events)
        .await
        .expect("the append is known to have committed");
    assert_eq!(
        proxy.cut.load(Ordering::SeqCst),
        1,
        "the acknowledgement was cut"
    );
    assert_eq!(
        *proxy.withheld.lock().unwrap(),
        ["COMMIT"],
        "the server committed; its answer was withheld"
    );
    assert_eq!(appended.stream_version, 2);
    let stored = store.log.read_stream("lead:a").await.unwrap();
    assert_eq!(
        stored.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        ids,
        "written once"
    );
    assert_eq!(
        (appended.first_position, appended.last_position),
        (stored[0].position, stored[1].position)
    );
    assert!(*store.log.watch_head().borrow() >= appended.last_position);
    // The writer goes on, on its new connection.
    store
        .log
        .append("lead:a", ExpectedVersion::Exact(2), vec![ev(3)])
        .await
        .unwrap();
    assert!(matches!(
        store.log.verify(|_| {}).await.unwrap(),
        Verification::Intact { .. }
    ));
    drop(store);
    t.cleanup().await;
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_before_an_append_fails() {
    let t = TestDb::postgres().await;
    let store = open(&t.url).await;
    store
        .log
        .append("lead:a", ExpectedVersion::NoStream, vec![ev(1)])
        .await
        .unwrap();
    // Every other connection to this test's database goes, the writer's among them, as
    // in a server restart.
    let mut admin = PgConnection::connect(&t.url).await.unwrap();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!ended.is_empty());
    admin.close().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let appended = store
        .log
        .append("lead:a", ExpectedVersion::Exact(1), vec![ev(2)])
        .await
        .expect("the writer reconnects instead of failing the append");
    assert_eq!(appended.stream_version, 2);
    assert_eq!(store.log.read_stream("lead:a").await.unwrap().len(), 2);
    drop(store);
    t.cleanup().await;
}
