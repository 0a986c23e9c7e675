//! The hand-written wire types and validation, checked against the Rekognition service model the
//! AWS CLI ships (`botocore/data/rekognition/2016-06-27/service-2.json`).
//!
//! Everything here is driven by the model: member names, required flags, lengths, patterns, enum
//! values and error shapes are read from it, never copied into this file. Only the way to build a
//! string that satisfies each pattern is written by hand ([`string_of_length`]); the model's own
//! regular expression then checks what it built.
//!
//! The model is looked for in `OPENLIVENESS_BOTOCORE_MODEL`, else in the repository's `.venv`
//! (made by `scripts/setup-python.sh`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use openliveness_protocol::{
    decode, validate_create, validate_get, ApiError, ChallengeKind,
    CreateFaceLivenessSessionRequest, CreateFaceLivenessSessionResponse, ErrorCode,
    GetFaceLivenessSessionResultsRequest, GetFaceLivenessSessionResultsResponse,
    LivenessSessionStatus, Operation,
};
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------------
// The model.

const MODEL_IN_VENV: &str =
    "site-packages/awscli/botocore/data/rekognition/2016-06-27/service-2.json";

fn model_path() -> PathBuf {
    const HINT: &str =
        "run scripts/setup-python.sh first (installs the AWS CLI whose model this test reads)";
    if let Some(path) = std::env::var_os("OPENLIVENESS_BOTOCORE_MODEL") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "OPENLIVENESS_BOTOCORE_MODEL={} is not a file; {HINT}",
            path.display()
        );
        return path;
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/lib");
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().starts_with("python3"))
        .map(|entry| entry.path().join(MODEL_IN_VENV))
        .filter(|path| path.is_file())
        .collect();
    candidates.sort();
    candidates
        .pop()
        .unwrap_or_else(|| panic!("{HINT}: no {}/python3.*/{MODEL_IN_VENV}", lib.display()))
}

fn model() -> &'static Value {
    static MODEL: OnceLock<Value> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = model_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("parsing {}: {error}", path.display()))
    })
}

fn shape(name: &str) -> &'static Map<String, Value> {
    model()["shapes"][name]
        .as_object()
        .unwrap_or_else(|| panic!("the model has no shape {name}"))
}

fn operation(name: &str) -> &'static Map<String, Value> {
    model()["operations"][name]
        .as_object()
        .unwrap_or_else(|| panic!("the model has no operation {name}"))
}

/// The input or output shape name of an operation.
fn io_shape(operation_name: &str, io: &str) -> &'static str {
    operation(operation_name)[io]["shape"]
        .as_str()
        .expect("shape name")
}

fn shape_type(name: &str) -> &'static str {
    shape(name)["type"].as_str().expect("shape type")
}

fn members(name: &str) -> Vec<(&'static str, &'static str)> {
    shape(name)["members"]
        .as_object()
        .map(|members| {
            members
                .iter()
                .map(|(member, target)| {
                    (
                        member.as_str(),
                        target["shape"].as_str().expect("member shape"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The strings of a shape's list `key` (`required`, `enum`), if it has one.
fn string_list(name: &str, key: &str) -> Option<Vec<&'static str>> {
    shape(name)
        .get(key)
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .map(|value| {
                    value
                        .as_str()
                        .unwrap_or_else(|| panic!("{name}.{key} holds {value}"))
                })
                .collect()
        })
}

fn required(name: &str) -> BTreeSet<&'static str> {
    string_list(name, "required")
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn list_member(name: &str) -> &'static str {
    shape(name)["member"]["shape"]
        .as_str()
        .expect("list member shape")
}

fn number(name: &str, key: &str) -> Option<f64> {
    shape(name).get(key).and_then(Value::as_f64)
}

fn length(name: &str, key: &str) -> Option<usize> {
    number(name, key).map(|n| n as usize)
}

fn pattern(name: &str) -> Option<&'static str> {
    shape(name).get("pattern").and_then(Value::as_str)
}

fn enum_values(name: &str) -> Option<Vec<&'static str>> {
    string_list(name, "enum")
}

/// The model's pattern, matched against the whole value (AWS validates whole values; a pattern
/// without anchors such as `[0-9A-Za-z\.\-_]*` is not meant to match any substring).
fn whole_value_regex(pattern: &str) -> regex_lite::Regex {
    let bare = pattern.strip_prefix('^').unwrap_or(pattern);
    let bare = bare.strip_suffix('$').unwrap_or(bare);
    regex_lite::Regex::new(&format!("^(?:{bare})$"))
        .unwrap_or_else(|error| panic!("the model's pattern {pattern:?} does not compile: {error}"))
}

// ---------------------------------------------------------------------------------------------
// Values built from shapes.

/// A string of `len` characters, for a string shape: valid for the shape's pattern when `len` is
/// within the shape's bounds. The one hand-written part: how to satisfy each pattern.
fn string_of_length(shape_name: &str, len: usize) -> String {
    let simple = |len: usize| "a".repeat(len);
    let Some(pattern) = pattern(shape_name) else {
        return simple(len);
    };
    let value = match pattern {
        // One character class repeated (a letter or digit first for KmsKeyId).
        "^[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,2048}$"
        | "^[a-zA-Z0-9-_]+$"
        | "[0-9A-Za-z\\.\\-_]*"
        | "\\S*" => simple(len),
        // Version: three parts of 1 to 3 digits, no leading zeros.
        "^(0|[1-9]\\d{0,2})\\.(0|[1-9]\\d{0,2})\\.(0|[1-9]\\d{0,2})$" => version_of_length(len),
        // A lower-case UUID.
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}" => {
            let uuid = "8f0e4c1a-2b3d-4e5f-9a6b-7c8d9e0f1a2b";
            if len <= uuid.len() {
                uuid[..len].to_owned()
            } else {
                format!("{uuid}{}", "a".repeat(len - uuid.len()))
            }
        }
        other => {
            panic!("no generator for {shape_name}'s pattern {other:?}: add one to string_of_length")
        }
    };
    assert_eq!(value.chars().count(), len, "{shape_name}: {value:?}");
    value
}

/// `1.0.0` (5) to `100.100.100` (11); shorter or longer strings keep the dotted shape.
fn version_of_length(len: usize) -> String {
    let part = |digits: usize| format!("1{}", "0".repeat(digits - 1));
    match len {
        0..=4 => "1.0.0"[..len].to_owned(),
        5..=11 => {
            let digits = len - 2;
            let first = (digits - 2).min(3);
            let second = (digits - first - 1).min(3);
            let third = digits - first - second;
            format!("{}.{}.{}", part(first), part(second), part(third))
        }
        _ => format!("100.100.100{}", "0".repeat(len - 11)),
    }
}

/// A valid value of a shape with every member filled: strings of the shape's minimum length
/// (enums: the first value), lists of one item, blobs of the minimum size in base64.
fn sample(shape_name: &str) -> Value {
    match shape_type(shape_name) {
        "structure" => Value::Object(
            members(shape_name)
                .into_iter()
                .map(|(member, target)| (member.to_owned(), sample(target)))
                .collect(),
        ),
        "list" => json!([sample(list_member(shape_name))]),
        "string" => match enum_values(shape_name) {
            Some(values) => json!(values[0]),
            None => json!(string_of_length(
                shape_name,
                length(shape_name, "min").unwrap_or(0)
            )),
        },
        "integer" | "long" => json!(number(shape_name, "min").unwrap_or(1.0) as i64),
        "float" | "double" => match (number(shape_name, "min"), number(shape_name, "max")) {
            (Some(min), Some(max)) => json!((min + max) / 2.0),
            (min, _) => json!(min.unwrap_or(0.0) + 0.5),
        },
        "blob" => {
            // base64 of `min` bytes of 0x41 ('A'): groups of 3 bytes are "QUFB".
            let size = length(shape_name, "min").unwrap_or(1);
            let mut encoded = "QUFB".repeat(size / 3);
            encoded.push_str(["", "QQ==", "QUE="][size % 3]);
            json!(encoded)
        }
        other => panic!("{shape_name}: no sample for shape type {other}: extend sample()"),
    }
}

/// One step into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Member(&'static str),
    /// The first item of a list.
    Item,
}

fn path_text(path: &[Step]) -> String {
    path.iter()
        .map(|step| match step {
            Step::Member(name) => format!(".{name}"),
            Step::Item => "[0]".to_owned(),
        })
        .collect()
}

/// Every member under a structure shape, depth first: its path, shape name and required flag.
fn walk(shape_name: &str) -> Vec<(Vec<Step>, &'static str, bool)> {
    fn go(shape_name: &str, prefix: &[Step], out: &mut Vec<(Vec<Step>, &'static str, bool)>) {
        match shape_type(shape_name) {
            "structure" => {
                let required = required(shape_name);
                for (member, target) in members(shape_name) {
                    let mut path = prefix.to_vec();
                    path.push(Step::Member(member));
                    out.push((path.clone(), target, required.contains(member)));
                    go(target, &path, out);
                }
            }
            "list" => {
                let mut path = prefix.to_vec();
                path.push(Step::Item);
                go(list_member(shape_name), &path, out);
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    go(shape_name, &[], &mut out);
    out
}

/// A value of `shape_name` holding `value` at `path` and, on the way, only the required members.
fn minimal_with(shape_name: &str, path: &[Step], value: Value) -> Value {
    let Some((step, rest)) = path.split_first() else {
        return value;
    };
    match (shape_type(shape_name), step) {
        ("structure", Step::Member(name)) => {
            let mut object: Map<String, Value> = members(shape_name)
                .into_iter()
                .filter(|(member, _)| required(shape_name).contains(member) && member != name)
                .map(|(member, target)| (member.to_owned(), sample(target)))
                .collect();
            let target = members(shape_name)
                .into_iter()
                .find(|(member, _)| member == name)
                .map(|(_, target)| target)
                .expect("member on the path");
            object.insert((*name).to_owned(), minimal_with(target, rest, value));
            Value::Object(object)
        }
        ("list", Step::Item) => json!([minimal_with(list_member(shape_name), rest, value)]),
        (kind, step) => panic!("{shape_name} ({kind}) has no step {step:?}"),
    }
}

/// Removes the value at `path`.
fn remove_at(value: &mut Value, path: &[Step]) {
    let (last, parent) = path.split_last().expect("a non-empty path");
    let mut node = value;
    for step in parent {
        node = match step {
            Step::Member(name) => &mut node[*name],
            Step::Item => &mut node[0],
        };
    }
    match last {
        Step::Member(name) => {
            node.as_object_mut().expect("an object").remove(*name);
        }
        Step::Item => {
            node.as_array_mut().expect("an array").remove(0);
        }
    }
}

/// Every key path in a JSON value (`.A.B[0].C`), with list items as `[0]`.
fn key_paths(value: &Value) -> BTreeSet<String> {
    fn go(value: &Value, prefix: String, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(object) => {
                for (key, item) in object {
                    let path = format!("{prefix}.{key}");
                    out.insert(path.clone());
                    go(item, path, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    go(item, format!("{prefix}[0]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    go(value, String::new(), &mut out);
    out
}

// ---------------------------------------------------------------------------------------------
// The two request shapes, decoded and validated as the server does.

const CREATE: &str = "CreateFaceLivenessSession";
const GET: &str = "GetFaceLivenessSessionResults";

/// Decodes a request body of `operation_name` and validates it, as the server does.
fn decode_and_validate(operation_name: &str, body: &Value) -> Result<(), ApiError> {
    let bytes = body.to_string().into_bytes();
    match operation_name {
        CREATE => validate_create(&decode::<CreateFaceLivenessSessionRequest>(&bytes)?).map(drop),
        GET => validate_get(&decode::<GetFaceLivenessSessionResultsRequest>(&bytes)?).map(drop),
        other => panic!("no request type for {other}"),
    }
}

fn request_operations() -> [(&'static str, &'static str); 2] {
    [
        (CREATE, io_shape(CREATE, "input")),
        (GET, io_shape(GET, "input")),
    ]
}

/// Deserialises the model's full sample of `shape_name` into `T`, serialises it back, and
/// checks that the same keys, at every depth, come out.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(shape_name: &str) {
    let full = sample(shape_name);
    let typed: T = serde_json::from_value(full.clone()).unwrap_or_else(|error| {
        panic!("{shape_name}: our type refuses the model's sample {full}: {error}")
    });
    let back = serde_json::to_value(&typed).expect("serialise");
    assert_eq!(
        key_paths(&back),
        key_paths(&full),
        "{shape_name}: members differ between the model (right) and our type (left)\nsample: {full}\nours: {back}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn operations_and_target_prefix_are_the_models() {
    assert_eq!(
        model()["metadata"]["targetPrefix"].as_str(),
        Some(Operation::TARGET_PREFIX),
        "X-Amz-Target prefix"
    );
    assert_eq!(
        model()["metadata"]["jsonVersion"].as_str(),
        Some("1.1"),
        "awsJson1_1"
    );
    for op in Operation::ALL {
        let modeled = operation(op.name());
        assert_eq!(modeled["name"].as_str(), Some(op.name()));
        let target = format!("{}.{}", Operation::TARGET_PREFIX, op.name());
        assert_eq!(Operation::from_target(&target), Some(op), "{target}");
    }
}

/// One round-trip case: the operation, `input` or `output`, and the check for its wire type.
type RoundTripCase = (&'static str, &'static str, fn(&str));

#[test]
fn every_member_of_the_requests_and_responses_round_trips() {
    let cases: [RoundTripCase; 4] = [
        (
            CREATE,
            "input",
            round_trip::<CreateFaceLivenessSessionRequest>,
        ),
        (
            CREATE,
            "output",
            round_trip::<CreateFaceLivenessSessionResponse>,
        ),
        (
            GET,
            "input",
            round_trip::<GetFaceLivenessSessionResultsRequest>,
        ),
        (
            GET,
            "output",
            round_trip::<GetFaceLivenessSessionResultsResponse>,
        ),
    ];
    for (operation_name, io, check) in cases {
        check(io_shape(operation_name, io));
    }
}

#[test]
fn the_full_samples_of_the_requests_are_valid() {
    for (operation_name, input) in request_operations() {
        let full = sample(input);
        if let Err(error) = decode_and_validate(operation_name, &full) {
            panic!("{input}: the model's full sample {full} is refused: {error}");
        }
    }
}

#[test]
fn required_request_members_are_required_and_the_others_optional() {
    let mut checked = 0;
    for (operation_name, input) in request_operations() {
        for (path, member_shape, is_required) in walk(input) {
            let mut body = sample(input);
            remove_at(&mut body, &path);
            let result = decode_and_validate(operation_name, &body);
            let shown = format!(
                "{input}{} ({member_shape}) removed: {body} => {result:?}",
                path_text(&path)
            );
            if is_required {
                let error =
                    result.expect_err(&format!("required member accepted missing: {shown}"));
                assert!(
                    matches!(
                        error.code,
                        ErrorCode::InvalidParameterException | ErrorCode::SerializationException
                    ),
                    "{shown}"
                );
                checked += 1;
            } else {
                assert!(result.is_ok(), "optional member is required by us: {shown}");
            }
        }
    }
    assert!(checked > 0, "the model's requests have no required member?");
}

#[test]
fn required_response_members_are_required() {
    fn check<T: serde::de::DeserializeOwned + std::fmt::Debug>(output: &str) -> usize {
        let mut checked = 0;
        for (path, member_shape, is_required) in walk(output) {
            if !is_required {
                continue;
            }
            let mut body = sample(output);
            remove_at(&mut body, &path);
            let result = serde_json::from_value::<T>(body.clone());
            assert!(
                result.is_err(),
                "{output}{} ({member_shape}) is required by the model, but our type accepts {body}: {result:?}",
                path_text(&path)
            );
            checked += 1;
        }
        checked
    }
    let checked = check::<CreateFaceLivenessSessionResponse>(io_shape(CREATE, "output"))
        + check::<GetFaceLivenessSessionResultsResponse>(io_shape(GET, "output"));
    assert!(
        checked > 0,
        "the model's responses have no required member?"
    );
}

/// The string members of the requests that carry a length or pattern constraint.
fn constrained_strings() -> Vec<(&'static str, &'static str, Vec<Step>, &'static str)> {
    let mut out = Vec::new();
    for (operation_name, input) in request_operations() {
        for (path, member_shape, _) in walk(input) {
            let constrained = ["min", "max", "pattern"]
                .iter()
                .any(|key| shape(member_shape).contains_key(*key));
            if shape_type(member_shape) == "string"
                && enum_values(member_shape).is_none()
                && constrained
            {
                out.push((operation_name, input, path, member_shape));
            }
        }
    }
    assert!(
        out.len() >= 6,
        "fewer constrained strings than expected: {}",
        out.len()
    );
    out
}

#[test]
fn string_lengths_are_accepted_at_the_models_bounds_and_refused_past_them() {
    for (operation_name, input, path, member_shape) in constrained_strings() {
        let min = length(member_shape, "min").unwrap_or(0);
        let max = length(member_shape, "max");
        let mut cases = vec![(min, true)];
        if min > 0 {
            cases.push((min - 1, false));
        }
        if let Some(max) = max {
            cases.extend([(max, true), (max + 1, false)]);
        }
        for (len, accepted) in cases {
            let value = string_of_length(member_shape, len);
            if accepted {
                if let Some(pattern) = pattern(member_shape) {
                    assert!(
                        whole_value_regex(pattern).is_match(&value),
                        "generator: {value:?} does not match {member_shape}'s pattern {pattern:?}"
                    );
                }
            }
            let body = minimal_with(input, &path, json!(value));
            let result = decode_and_validate(operation_name, &body);
            let shown = format!(
                "{input}{} ({member_shape}, length {min}..={max:?}) of length {len}: {result:?}",
                path_text(&path)
            );
            if accepted {
                assert!(result.is_ok(), "refused: {shown}");
            } else {
                let error = result.expect_err(&format!("accepted: {shown}"));
                assert_eq!(error.code, ErrorCode::InvalidParameterException, "{shown}");
                assert!(
                    error.message.contains("length"),
                    "not refused for its length: {shown}"
                );
            }
        }
    }
}

/// Strings to try against every pattern, on top of each shape's own valid samples.
const PROBES: &[&str] = &[
    "abc",
    "ABC",
    "a b",
    "a\tb",
    "a*b",
    "-abc",
    "_abc",
    "abc-",
    "a_b-c",
    "a.b.c",
    "a:b/c+d=e,f@g",
    "bücket",
    "a\u{00a0}b",
    "1.0.0",
    "0.0.0",
    "999.999.999",
    "1000.0.0",
    "01.0.0",
    "1.00.0",
    "1.0",
    "1.0.0.0",
    "1..0",
    " 1.0.0",
    "1.0.0 ",
    "8f0e4c1a-2b3d-4e5f-9a6b-7c8d9e0f1a2b",
    "8F0E4C1A-2B3D-4E5F-9A6B-7C8D9E0F1A2B",
    "8f0e4c1a2b3d4e5f9a6b7c8d9e0f1a2b0000",
    "8f0e4c1a-2b3d-4e5f-9a6b-7c8d9e0f1a2g",
    "g8f0e4c1-2b3d-4e5f-9a6b-7c8d9e0f1a2b",
];

#[test]
fn patterns_accept_and_refuse_what_the_models_regex_does() {
    for (operation_name, input, path, member_shape) in constrained_strings() {
        let Some(pattern) = pattern(member_shape) else {
            continue;
        };
        let regex = whole_value_regex(pattern);
        let min = length(member_shape, "min").unwrap_or(0);
        let max = length(member_shape, "max").unwrap_or(usize::MAX);
        let own = [
            string_of_length(member_shape, min.max(1)),
            string_of_length(member_shape, max.min(64)),
        ];
        let probes = PROBES.iter().map(|probe| (*probe).to_owned()).chain(own);
        for probe in probes.filter(|probe| (min..=max).contains(&probe.chars().count())) {
            let expected = regex.is_match(&probe);
            let result =
                decode_and_validate(operation_name, &minimal_with(input, &path, json!(probe)));
            assert_eq!(
                result.is_ok(),
                expected,
                "{input}{} ({member_shape}, pattern {pattern:?}) = {probe:?}: {result:?}",
                path_text(&path)
            );
        }
    }
}

/// The values of the enum that member `member` of `structure` targets, which must be `ours`, in
/// the model's order.
fn assert_enum_is_ours(structure: &str, member: &str, ours: &[&str]) -> Vec<&'static str> {
    let target = members(structure)
        .into_iter()
        .find(|(name, _)| *name == member)
        .map(|(_, target)| target)
        .unwrap_or_else(|| panic!("{structure}.{member}"));
    let modeled = enum_values(target).unwrap_or_else(|| panic!("{target} is not an enum"));
    assert_eq!(ours, modeled.as_slice(), "{target}");
    modeled
}

#[test]
fn enum_members_accept_exactly_the_models_values() {
    let modeled = assert_enum_is_ours(
        "ChallengePreference",
        "Type",
        &ChallengeKind::ALL.map(ChallengeKind::as_str),
    );
    for value in &modeled {
        assert_eq!(
            ChallengeKind::parse(value).map(ChallengeKind::as_str),
            Some(*value)
        );
    }

    assert_enum_is_ours(
        io_shape(GET, "output"),
        "Status",
        &LivenessSessionStatus::ALL.map(LivenessSessionStatus::as_str),
    );
    for status in LivenessSessionStatus::ALL {
        assert_eq!(
            serde_json::to_value(status).expect("serialise"),
            json!(status.as_str())
        );
    }

    // Every enum string member of the requests: each modeled value accepted, anything else refused.
    for (operation_name, input) in request_operations() {
        for (path, member_shape, _) in walk(input) {
            let Some(values) = enum_values(member_shape) else {
                continue;
            };
            for value in values.iter().copied().chain(["NotAModeledValue", ""]) {
                let result =
                    decode_and_validate(operation_name, &minimal_with(input, &path, json!(value)));
                assert_eq!(
                    result.is_ok(),
                    values.contains(&value),
                    "{}{} = {value:?}: {result:?}",
                    input,
                    path_text(&path)
                );
            }
        }
    }
}

#[test]
fn the_models_errors_are_ours_with_their_status() {
    let ours = ErrorCode::ALL.to_vec();
    let mut seen = BTreeSet::new();
    for op in [CREATE, GET] {
        let errors = operation(op)["errors"].as_array().expect("errors");
        assert!(!errors.is_empty(), "{op} has no errors");
        for error in errors {
            let name = error["shape"].as_str().expect("error shape");
            let modeled = shape(name);
            assert_eq!(
                modeled.get("exception"),
                Some(&json!(true)),
                "{name} is not an exception"
            );
            let code = ours
                .iter()
                .copied()
                .find(|code| code.name() == name)
                .unwrap_or_else(|| panic!("{op} can fail with {name}, which ErrorCode lacks"));
            assert!(
                modeled.get("error").is_none(),
                "{name} has an httpStatusCode in the model: check it"
            );
            let fault = modeled.get("fault") == Some(&json!(true));
            let expected = if fault { 500 } else { 400 };
            assert_eq!(code.http_status(), expected, "{name} (fault: {fault})");
            seen.insert(name);
        }
    }
    assert!(seen.contains("SessionNotFoundException"), "{seen:?}");
}

#[test]
fn structures_in_requests_are_json_objects_only() {
    let mut checked = 0;
    for (operation_name, input) in request_operations() {
        // The body itself, every structure member, and every structure item of a list.
        let mut positions = vec![(Vec::new(), input)];
        for (path, member_shape, _) in walk(input) {
            match shape_type(member_shape) {
                "structure" => positions.push((path, member_shape)),
                "list" if shape_type(list_member(member_shape)) == "structure" => {
                    let mut item = path;
                    item.push(Step::Item);
                    positions.push((item, list_member(member_shape)));
                }
                _ => {}
            }
        }
        for (path, structure) in positions {
            let full = sample(structure);
            // serde's derive reads a struct from an array, its members by position: not awsJson.
            let positional = Value::Array(
                full.as_object()
                    .expect("an object")
                    .values()
                    .cloned()
                    .collect(),
            );
            for value in [json!([]), positional, json!("text"), json!(1)] {
                let body = minimal_with(input, &path, value.clone());
                let result = decode_and_validate(operation_name, &body);
                let shown = format!(
                    "{input}{} ({structure}) = {value}: {body} => {result:?}",
                    path_text(&path)
                );
                let error = result.expect_err(&format!("accepted: {shown}"));
                assert_eq!(error.code, ErrorCode::SerializationException, "{shown}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 6, "{checked}");
}
