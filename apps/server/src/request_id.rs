//! Request ids: every answer carries `X-Request-Id`, and every log line written while handling the request carries
//! the same id (`telemetry::log_request` puts it on the request's span), so that an operator finds a client's
//! failed call in the logs. A caller's own id (a proxy's, or a client's retry) is kept when it is sane; anything
//! else is replaced by a fresh random one, so that a log line never carries a caller's arbitrary bytes.

use actix_web::http::header::{HeaderMap, HeaderValue};

/// The request and response header (lower case, as `HeaderName::from_static` wants it).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest id kept from a request; a longer one is replaced.
pub const MAX_REQUEST_ID_LENGTH: usize = 128;

/// A request's id: 1 to [`MAX_REQUEST_ID_LENGTH`] visible ASCII characters (no spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The request's own `X-Request-Id` when it is sane (exactly one, and [`RequestId::parse`] accepts it),
    /// otherwise a new one.
    pub fn for_request(headers: &HeaderMap) -> Self {
        let mut values = headers.get_all(REQUEST_ID_HEADER);
        match (values.next(), values.next()) {
            (Some(value), None) => Self::parse(value.as_bytes()).unwrap_or_else(Self::generate),
            _ => Self::generate(),
        }
    }

    /// `value` as an id, if it is 1 to [`MAX_REQUEST_ID_LENGTH`] visible ASCII characters.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let sane = !value.is_empty()
            && value.len() <= MAX_REQUEST_ID_LENGTH
            && value.iter().all(|byte| byte.is_ascii_graphic());
        // Visible ASCII is valid UTF-8.
        sane.then(|| Self(String::from_utf8_lossy(value).into_owned()))
    }

    /// A new random id: 128 bits as 32 lower-case hex digits.
    pub fn generate() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as the response header's value.
    pub fn header_value(&self) -> HeaderValue {
        HeaderValue::from_str(&self.0).expect("a request id is visible ASCII, which is always a valid header value")
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderName;

    use super::*;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(HeaderName::from_static(REQUEST_ID_HEADER), HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_sane_id_is_kept() {
        let id = RequestId::for_request(&headers(&[b"req-42_abc.DEF:7/9"]));
        assert_eq!(id.as_str(), "req-42_abc.DEF:7/9");
        let longest = "a".repeat(MAX_REQUEST_ID_LENGTH);
        assert_eq!(RequestId::for_request(&headers(&[longest.as_bytes()])).as_str(), longest);
    }

    #[test]
    fn an_empty_long_spaced_or_non_ascii_id_is_replaced() {
        let too_long = "a".repeat(MAX_REQUEST_ID_LENGTH + 1);
        for value in [&b""[..], too_long.as_bytes(), b"two words", b"tab\there", "caf\u{e9}".as_bytes()] {
            let id = RequestId::for_request(&headers(&[value]));
            assert_ne!(id.as_str().as_bytes(), value, "{value:?}");
            assert_eq!(id.as_str().len(), 32, "{value:?}");
        }
    }

    #[test]
    fn a_missing_or_repeated_header_gets_a_new_id() {
        assert_eq!(RequestId::for_request(&HeaderMap::new()).as_str().len(), 32);
        assert_eq!(RequestId::for_request(&headers(&[b"one", b"two"])).as_str().len(), 32);
    }

    #[test]
    fn generated_ids_are_hex_and_differ() {
        let (first, second) = (RequestId::generate(), RequestId::generate());
        assert_ne!(first, second);
        assert!(first.as_str().bytes().all(|byte| byte.is_ascii_hexdigit()), "{first}");
        assert_eq!(first.header_value(), first.as_str());
    }
}
