//! The one HTTP POST all webhook-style sinks share, with failures classified.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::error::SinkError;

/// How long a resolved address of the receiver is used before it is looked up again.
const RESOLVED_FOR: Duration = Duration::from_secs(60);

/// An HTTP client that posts JSON bodies and reads the status.
pub(crate) struct JsonPoster {
    agent: ureq::Agent,
    url: String,
}

impl JsonPoster {
    pub(crate) fn new(url: &str, timeout: Duration) -> JsonPoster {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build();
        let resolver = CachingResolver::default();
        let agent = ureq::Agent::with_parts(config, DefaultConnector::default(), resolver);
        JsonPoster { agent, url: url.to_string() }
    }

    /// Posts `body`; 2xx is success, 408, 429 and 5xx are worth retrying, other
    /// statuses are not, and transport errors (refused, timeout) are.
    pub(crate) fn post(&self, body: &[u8]) -> Result<(), SinkError> {
        let response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|e| SinkError::Retryable(format!("POST {}: {e}", self.url)))?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(()),
            408 | 429 | 500..=599 => {
                Err(SinkError::Retryable(format!("POST {}: HTTP {status}", self.url)))
            }
            _ => Err(SinkError::Permanent(format!("POST {}: HTTP {status}", self.url))),
        }
    }
}

/// The default resolver, remembering the last answer for [`RESOLVED_FOR`].
///
/// The HTTP client resolves the host before every request, kept-alive connection or
/// not, and under a timeout it does so on a new thread: a thread per alert. A sink
/// posts to one receiver, so the last answer is all there is to keep.
#[derive(Debug, Default)]
struct CachingResolver {
    inner: DefaultResolver,
    last: Mutex<Option<(Uri, Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let same_host = |cached: &Uri| {
            cached.scheme() == uri.scheme()
                && cached.authority().map(|a| a.as_str()) == uri.authority().map(|a| a.as_str())
        };
        if let Some((cached, at, addrs)) = &*self.last.lock().unwrap_or_else(|p| p.into_inner())
            && same_host(cached)
            && at.elapsed() < RESOLVED_FOR
        {
            return Ok(addrs.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((uri.clone(), Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_receiver_is_resolved_once_a_minute() {
        let resolver = CachingResolver::default();
        let config = ureq::Agent::config_builder().build();
        let resolve = |uri: &str| {
            let uri: Uri = uri.parse().unwrap();
            resolver.resolve(&uri, &config, NextTimeout::default()).unwrap().to_vec()
        };
        let local: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(resolve("http://127.0.0.1:9/hook"), vec![local]);
        // What is remembered is answered without a lookup: plant another address.
        let planted: std::net::SocketAddr = "192.0.2.7:9".parse().unwrap();
        if let Some((_, _, addrs)) = &mut *resolver.last.lock().unwrap() {
            addrs[0] = planted;
        }
        assert_eq!(resolve("http://127.0.0.1:9/other/path"), vec![planted]);
        // Another port is another receiver; an expired answer is looked up again.
        assert_eq!(resolve("http://127.0.0.1:10/"), vec!["127.0.0.1:10".parse().unwrap()]);
        assert_eq!(resolve("http://127.0.0.1:9/"), vec![local]);
        let expired = if let Some((_, at, addrs)) = &mut *resolver.last.lock().unwrap() {
            addrs[0] = planted;
            // None only within a minute of the clock's origin (boot).
            at.checked_sub(RESOLVED_FOR).map(|t| *at = t).is_some()
        } else {
            false
        };
        if expired {
            assert_eq!(resolve("http://127.0.0.1:9/"), vec![local]);
        }
    }
}
