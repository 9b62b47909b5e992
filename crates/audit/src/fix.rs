//! Fixes as RFC 6902 patches: set a field (adding the missing objects on the way, so the patch
//! applies to the object as it is) or remove one.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation, RemoveOperation, ReplaceOperation};
use serde_json::{Map, Value};

use crate::check::Fix;

/// The operation that sets `pointer` to `value` in `object`: an `add` at the first missing
/// level, carrying the rest of the path as nested objects.
pub fn set(object: &Value, pointer: &str, value: Value) -> Option<PatchOperation> {
    let tokens: Vec<String> = PointerBuf::parse(pointer)
        .ok()?
        .tokens()
        .map(|t| t.decoded().into_owned())
        .collect();
    let mut at = object;
    let mut depth = 0;
    for t in &tokens[..tokens.len().saturating_sub(1)] {
        let next = match at {
            Value::Object(m) => m.get(t),
            Value::Array(a) => t.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v @ Value::Object(_)) | Some(v @ Value::Array(_)) => {
                at = v;
                depth += 1;
            }
            _ => break,
        }
    }
    let mut nested = value;
    for t in tokens[depth + 1..].iter().rev() {
        let mut m = Map::new();
        m.insert(t.clone(), nested);
        nested = Value::Object(m);
    }
    let path = PointerBuf::from_tokens(tokens[..=depth].iter().map(String::as_str));
    Some(PatchOperation::Add(AddOperation {
        path,
        value: nested,
    }))
}

/// The operation that removes `pointer`.
pub fn remove(pointer: &str) -> Option<PatchOperation> {
    Some(PatchOperation::Remove(RemoveOperation {
        path: PointerBuf::parse(pointer).ok()?,
    }))
}

/// A patch of these operations (`None` when there are none).
pub fn patch(ops: impl IntoIterator<Item = Option<PatchOperation>>) -> Option<Fix> {
    let ops: Vec<PatchOperation> = ops.into_iter().flatten().collect();
    (!ops.is_empty()).then_some(Fix::Patch(Patch(ops)))
}

/// The operation that replaces the value at `pointer`.
pub fn replace(pointer: &str, value: Value) -> Option<PatchOperation> {
    Some(PatchOperation::Replace(ReplaceOperation {
        path: PointerBuf::parse(pointer).ok()?,
        value,
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn set_adds_the_missing_objects_and_the_patch_applies() {
        let mut pod = json!({"spec": {"containers": [{"name": "a"}]}});
        let op = set(
            &pod,
            "/spec/containers/0/securityContext/readOnlyRootFilesystem",
            json!(true),
        );
        let Some(Fix::Patch(p)) = patch([op]) else {
            panic!("no patch")
        };
        assert_eq!(p.0.len(), 1);
        json_patch::patch(&mut pod, &p).expect("applies");
        assert_eq!(
            pod.pointer("/spec/containers/0/securityContext/readOnlyRootFilesystem"),
            Some(&json!(true))
        );
        // Set again: an add of the field itself, replacing what is there.
        let op = set(
            &pod,
            "/spec/containers/0/securityContext/readOnlyRootFilesystem",
            json!(false),
        );
        let Some(Fix::Patch(p)) = patch([op]) else {
            panic!("no patch")
        };
        assert_eq!(
            serde_json::to_value(&p).expect("json"),
            json!([{"op": "add", "path": "/spec/containers/0/securityContext/readOnlyRootFilesystem", "value": false}])
        );
    }
}
