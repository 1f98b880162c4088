//! Telegram frames on a TCP stream: the relay's codec
//! ([`relay::telegram`]) with a size bound and a read deadline, so a client
//! that sends garbage, an oversized length or a header and then stalls costs
//! the server one bounded wait and one connection, never a thread forever.

use relay::telegram::{self, FrameError, Telegram, LEN_PREFIX, MAX_BODY};
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Why no telegram could be read from a connection.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The peer closed the connection before a whole frame.
    #[error("connection closed after {read} bytes of a frame")]
    Closed { read: usize },
    /// The frame did not arrive within the read deadline.
    #[error("frame not complete within {0:?} (stalled client)")]
    Stalled(Duration),
    /// The length prefix announces more than the relay accepts.
    #[error("oversized frame: body of {len} bytes exceeds {max}")]
    Oversized { len: usize, max: usize },
    /// The bytes are not a telegram.
    #[error("malformed frame: {0}")]
    Malformed(FrameError),
    #[error("i/o error: {0}")]
    Io(io::Error),
}

impl ReadError {
    /// A short stable name, for counters and log fields.
    pub fn kind(&self) -> &'static str {
        match self {
            ReadError::Closed { .. } => "closed",
            ReadError::Stalled(_) => "stalled",
            ReadError::Oversized { .. } => "oversized",
            ReadError::Malformed(_) => "malformed",
            ReadError::Io(_) => "io",
        }
    }
}

/// Reads exactly one frame, all of it within `deadline` from now.
pub fn read_frame(stream: &mut TcpStream, deadline: Duration) -> Result<Telegram, ReadError> {
    let until = Instant::now() + deadline;
    let mut prefix = [0u8; LEN_PREFIX];
    read_exact_by(stream, &mut prefix, until, deadline, 0)?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_BODY {
        return Err(ReadError::Oversized { len, max: MAX_BODY });
    }
    let mut frame = vec![0u8; LEN_PREFIX + len];
    frame[..LEN_PREFIX].copy_from_slice(&prefix);
    read_exact_by(
        stream,
        &mut frame[LEN_PREFIX..],
        until,
        deadline,
        LEN_PREFIX,
    )?;
    telegram::decode(&frame)
        .map(|(t, _)| t)
        .map_err(ReadError::Malformed)
}

/// `read_exact`, but every read waits only for what is left of the deadline.
fn read_exact_by(
    stream: &mut TcpStream,
    buf: &mut [u8],
    until: Instant,
    deadline: Duration,
    already: usize,
) -> Result<(), ReadError> {
    let mut filled = 0;
    while filled < buf.len() {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Stalled(deadline));
        }
        stream.set_read_timeout(Some(left)).map_err(ReadError::Io)?;
        match stream.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(ReadError::Closed {
                    read: already + filled,
                })
            }
            Ok(n) => filled += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(ReadError::Stalled(deadline))
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if is_disconnect(&e) => {
                return Err(ReadError::Closed {
                    read: already + filled,
                })
            }
            Err(e) => return Err(ReadError::Io(e)),
        }
    }
    Ok(())
}

/// The peer went away (reset or aborted), as opposed to a local fault.
pub fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

/// Writes one telegram as a frame, within `deadline`.
pub fn write_frame(stream: &mut TcpStream, t: &Telegram, deadline: Duration) -> io::Result<()> {
    let frame =
        telegram::encode(t).map_err(|e| io::Error::new(ErrorKind::InvalidInput, e.to_string()))?;
    stream.set_write_timeout(Some(deadline))?;
    stream.write_all(&frame)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay::telegram::{CardId, CsId, TelegramId, TelegramKind};
    use std::net::TcpListener;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_frame_round_trips_over_tcp() {
        let (mut client, mut server) = pair();
        let t = Telegram {
            kind: TelegramKind::Register,
            cs: CsId(3),
            id: TelegramId(300_001),
            card: CardId(9),
            payload: b"sealed".to_vec(),
        };
        write_frame(&mut client, &t, Duration::from_secs(1)).unwrap();
        let got = read_frame(&mut server, Duration::from_secs(1)).unwrap();
        assert_eq!(got, t);
    }

    #[test]
    fn oversized_stalled_closed_and_garbage_frames_are_typed_errors() {
        let (mut client, mut server) = pair();
        client.write_all(&u32::MAX.to_be_bytes()).unwrap();
        let e = read_frame(&mut server, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, ReadError::Oversized { .. }), "{e}");

        let (mut client, mut server) = pair();
        client.write_all(&40u32.to_be_bytes()).unwrap();
        let e = read_frame(&mut server, Duration::from_millis(50)).unwrap_err();
        assert_eq!(e.kind(), "stalled", "{e}");

        let (mut client, mut server) = pair();
        client.write_all(&[0, 0]).unwrap();
        drop(client);
        let e = read_frame(&mut server, Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, ReadError::Closed { read: 2 }), "{e}");

        let (mut client, mut server) = pair();
        let mut garbage = 19u32.to_be_bytes().to_vec();
        garbage.extend([0xEE; 19]);
        client.write_all(&garbage).unwrap();
        let e = read_frame(&mut server, Duration::from_secs(1)).unwrap_err();
        assert!(
            matches!(e, ReadError::Malformed(FrameError::UnknownKind(0xEE))),
            "{e}"
        );
    }
}
