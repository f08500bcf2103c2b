//! Edits of a config by JSON pointer ("/linux/resources/memory").

use serde_json::{json, Value};

/// Sets `v` at `pointer`, making intermediate objects as needed; a numeric
/// component indexes an existing array.
pub fn set_pointer(root: &mut Value, pointer: &str, v: Value) {
    let mut cur = root;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if let Value::Array(a) = cur {
            let idx: usize = p.parse().expect("array index");
            if last {
                a[idx] = v;
                return;
            }
            cur = &mut a[idx];
            continue;
        }
        if !cur.is_object() {
            *cur = json!({});
        }
        let obj = cur.as_object_mut().expect("object");
        if last {
            obj.insert(p.to_string(), v);
            return;
        }
        cur = obj.entry(p.to_string()).or_insert_with(|| json!({}));
    }
}

/// Removes the member (or array element) at `pointer`; nothing if absent.
pub fn remove_pointer(v: &mut Value, pointer: &str) {
    let (parent, key) = match pointer.rfind('/') {
        Some(i) => (&pointer[..i], &pointer[i + 1..]),
        None => ("", pointer),
    };
    if let Some(p) = v.pointer_mut(parent) {
        if let Some(o) = p.as_object_mut() {
            o.remove(key);
        } else if let (Some(a), Ok(i)) = (p.as_array_mut(), key.parse::<usize>()) {
            if i < a.len() {
                a.remove(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_and_remove() {
        let mut v = json!({"a": [1, {"b": 2}]});
        set_pointer(&mut v, "/a/1/b", json!(3));
        set_pointer(&mut v, "/x/y", json!("z"));
        assert_eq!(v, json!({"a": [1, {"b": 3}], "x": {"y": "z"}}));
        remove_pointer(&mut v, "/a/0");
        remove_pointer(&mut v, "/x/y");
        remove_pointer(&mut v, "/nope/nope");
        assert_eq!(v, json!({"a": [{"b": 3}], "x": {}}));
    }
}
