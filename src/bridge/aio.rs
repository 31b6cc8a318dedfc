//! The async side of [`RedisConnection`]: redis-rs's `aio::ConnectionLike`, for code on tokio.
//!
//! slotstore commands take microseconds and never wait on a socket, so a future runs its
//! command when first polled. Blocking commands (`BLPOP`, ...) are the exception: on a tokio
//! runtime they run on its blocking pool, so a task waiting on a list never stalls the
//! runtime's worker threads; `WAIT` tells a multi-thread runtime that its worker blocks.

use super::{convert, resp, words, RedisConnection};
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, Value};

impl redis::aio::ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let packed;
            let args = match words(cmd) {
                Some(args) => args,
                None => {
                    packed = cmd.get_packed_command();
                    let mut commands = resp::parse_commands(&packed)?;
                    commands.pop().unwrap_or_default()
                }
            };
            if self.blocks(&args) {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    let client = self.client.clone();
                    let owned: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
                    let reply =
                        runtime.spawn_blocking(move || client.command(&owned)).await.map_err(|e| {
                            RedisError::from((
                                ErrorKind::Io,
                                "slotstore: blocking command task failed",
                                e.to_string(),
                            ))
                        })?;
                    return reply.map(convert::value).map_err(|e| convert::error(&e));
                }
            }
            // WAIT waits for replicas up to its timeout, with this connection's last write: on
            // a multi-thread runtime it tells tokio this worker blocks, so others take over.
            if self.waits(&args) {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
                        return tokio::task::block_in_place(|| {
                            self.request(&args).and_then(Value::extract_error)
                        });
                    }
                }
            }
            self.request(&args).and_then(Value::extract_error)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let packed = pipeline.get_packed_pipeline();
            let commands = resp::parse_commands(&packed)?;
            self.pipeline(&commands, offset, count)
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}
