//! The pieces of SigV4 as pure functions: canonical request, string to sign, signature.
//! See AWS's "Create a signed AWS API request" for the algorithm these follow.

use std::time::{Duration, SystemTime};

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The only algorithm SigV4 header and query authentication use.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What SigV4 leaves unencoded: `A-Z a-z 0-9 - _ . ~`.
const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SigV4's URI encoding of one component (everything but the unreserved characters).
pub fn uri_encode(component: &str) -> String {
    utf8_percent_encode(component, SIGV4_ENCODE).to_string()
}

/// The canonical URI of a path as received (already percent-encoded by the client), for every
/// service but S3: dot segments removed, then each segment encoded once more.
pub fn canonical_uri(raw_path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in raw_path.split('/').skip(1) {
        match segment {
            "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let mut uri = String::with_capacity(raw_path.len() + 1);
    for segment in &segments {
        uri.push('/');
        uri.push_str(&uri_encode(segment));
    }
    if uri.is_empty() || raw_path.ends_with('/') && !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

/// The decoded `(name, value)` pairs of a query string, in their order.
pub fn query_pairs(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| percent_decode_str(text).decode_utf8_lossy().into_owned();
            (decode(name), decode(value))
        })
        .collect()
}

/// The canonical query string of decoded pairs: each encoded, sorted by name then value.
pub fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| (uri_encode(name), uri_encode(value)))
        .collect();
    encoded.sort();
    let parts: Vec<String> = encoded
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    parts.join("&")
}

/// A header's canonical value: every value trimmed, inner runs of spaces folded to one,
/// several values joined by commas.
pub fn canonical_header_value<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let folded: Vec<String> = values
        .into_iter()
        .map(|value| value.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    folded.join(",")
}

/// The canonical request. `headers` are `(lower-case name, canonical value)` in the order of
/// `signed_headers`.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(String, String)],
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    let mut request = format!("{method}\n{canonical_uri}\n{canonical_query}\n");
    for (name, value) in headers {
        request.push_str(name);
        request.push(':');
        request.push_str(value);
        request.push('\n');
    }
    request.push('\n');
    request.push_str(signed_headers);
    request.push('\n');
    request.push_str(payload_hash);
    request
}

/// The credential scope: `date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key_id: String,
    /// `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    /// Parses `AKID/YYYYMMDD/region/service/aws4_request`.
    pub fn parse(credential: &str) -> Option<CredentialScope> {
        let mut parts = credential.split('/');
        let scope = CredentialScope {
            access_key_id: parts.next()?.to_owned(),
            date: parts.next()?.to_owned(),
            region: parts.next()?.to_owned(),
            service: parts.next()?.to_owned(),
        };
        let well_formed = parts.next() == Some("aws4_request")
            && parts.next().is_none()
            && !scope.access_key_id.is_empty()
            && scope.date.len() == 8
            && scope.date.bytes().all(|b| b.is_ascii_digit())
            && !scope.region.is_empty()
            && !scope.service.is_empty();
        well_formed.then_some(scope)
    }

    /// `date/region/service/aws4_request`, as it stands in the string to sign.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// The string to sign of a request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The signing key for a secret, day, region and service (HMAC chain, by `aws-sigv4`).
pub fn signing_key(secret: &str, date: SystemTime, region: &str, service: &str) -> Vec<u8> {
    aws_sigv4::sign::v4::generate_signing_key(secret, date, region, service)
        .as_ref()
        .to_vec()
}

/// The hex signature of a string to sign.
pub fn signature(signing_key: &[u8], string_to_sign: &str) -> String {
    aws_sigv4::sign::v4::calculate_signature(signing_key, string_to_sign.as_bytes())
}

/// Compares two signatures without leaking where they differ.
pub fn signatures_match(expected: &str, provided: &str) -> bool {
    expected.as_bytes().ct_eq(provided.as_bytes()).into()
}

/// Parses an ISO 8601 basic date-time as SigV4 writes it: `YYYYMMDDTHHMMSSZ`.
pub fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    if text.len() != 16 {
        return None;
    }
    let date_time = time::PrimitiveDateTime::parse(text, &format)
        .ok()?
        .assume_utc();
    let seconds = u64::try_from(date_time.unix_timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Formats a time as SigV4 writes it: `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(at: SystemTime) -> String {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::OffsetDateTime::from(at)
        .format(&format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published SigV4 test suite, case `get-vanilla-query-order-key-case`... and friends
    /// use these credentials; `get-vanilla` is the simplest.
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn get_vanilla_known_answer() {
        let date = parse_amz_date("20150830T123600Z").unwrap();
        let headers = vec![
            ("host".to_owned(), "example.amazonaws.com".to_owned()),
            ("x-amz-date".to_owned(), "20150830T123600Z".to_owned()),
        ];
        let request = canonical_request(
            "GET",
            &canonical_uri("/"),
            "",
            &headers,
            "host;x-amz-date",
            &sha256_hex(b""),
        );
        assert_eq!(
            request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let to_sign = string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &request,
        );
        let key = signing_key(SECRET, date, "us-east-1", "service");
        assert_eq!(
            signature(&key, &to_sign),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn query_is_decoded_encoded_and_sorted() {
        let pairs = query_pairs("Param2=value2&Param1=value%201&a=b%2Fc&empty");
        assert_eq!(
            canonical_query(&pairs),
            "Param1=value%201&Param2=value2&a=b%2Fc&empty="
        );
    }

    #[test]
    fn uri_is_normalised_and_encoded_again() {
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a/./b/../c"), "/a/c");
        assert_eq!(
            canonical_uri("/start-face-liveness-session"),
            "/start-face-liveness-session"
        );
        assert_eq!(canonical_uri("/foo%20bar/"), "/foo%2520bar/");
    }

    #[test]
    fn header_values_are_trimmed_and_folded() {
        assert_eq!(canonical_header_value(["  a   b  c ", "d"]), "a b c,d");
    }

    #[test]
    fn credential_scope_parses_only_well_formed_values() {
        let scope =
            CredentialScope::parse("AKID/20150830/us-east-1/rekognition/aws4_request").unwrap();
        assert_eq!(scope.scope(), "20150830/us-east-1/rekognition/aws4_request");
        for bad in [
            "AKID/20150830/us-east-1/rekognition",
            "AKID/2015083/us-east-1/rekognition/aws4_request",
            "/20150830/us-east-1/rekognition/aws4_request",
            "AKID/20150830/us-east-1/rekognition/aws4_request/x",
            "AKID/20150830//rekognition/aws4_request",
        ] {
            assert_eq!(CredentialScope::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn amz_dates_round_trip_and_reject_other_forms() {
        let at = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(format_amz_date(at), "20150830T123600Z");
        for bad in [
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20151330T123600Z",
            "",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn signatures_compare_exactly() {
        assert!(signatures_match("abc", "abc"));
        assert!(!signatures_match("abc", "abd"));
        assert!(!signatures_match("abc", "ab"));
    }
}
