//! A small condition language over a JSON value, for `eos wait state ID 'count >= 10'`:
//!
//! ```text
//! condition  := clause ( "&&" clause )*
//! clause     := path [ op value ]          a bare path: present and not false, null, 0 or ""
//! path       := "." | name ( "." name )*   a name is a key or an array index; `len` counts
//! op         := == != < <= > >=
//! value      := any JSON value (a bare word is a string)
//! ```
//!
//! Numbers compare as numbers, strings as strings; `==` and `!=` compare any JSON.

use std::cmp::Ordering;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq)]
struct Clause {
    path: Vec<String>,
    test: Option<(Op, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

const OPS: [(&str, Op); 6] = [
    ("==", Op::Eq),
    ("!=", Op::Ne),
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("<", Op::Lt),
    (">", Op::Gt),
];

impl Condition {
    pub fn parse(text: &str) -> Result<Self, String> {
        let clauses = text
            .split("&&")
            .map(|clause| parse_clause(clause.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Condition { clauses })
    }

    pub fn holds(&self, value: &Value) -> bool {
        self.clauses.iter().all(|c| c.holds(value))
    }
}

fn parse_clause(text: &str) -> Result<Clause, String> {
    if text.is_empty() {
        return Err("an empty condition; write for example `count >= 10`".into());
    }
    let found = OPS
        .iter()
        .find_map(|(sym, op)| text.find(sym).map(|at| (at, *sym, *op)));
    let (path, test) = match found {
        Some((at, sym, op)) => {
            let right = text[at + sym.len()..].trim();
            if right.is_empty() {
                return Err(format!("`{text}`: nothing after `{sym}`"));
            }
            let value = serde_json::from_str(right).unwrap_or_else(|_| Value::String(right.into()));
            (text[..at].trim(), Some((op, value)))
        }
        None => (text, None),
    };
    if path.is_empty() {
        return Err(format!(
            "`{text}`: a path comes first, such as `count` or `a.b`"
        ));
    }
    if let Some(bad) = path
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "`{path}` is not a path (`{bad}`); write for example `count` or `a.b.0`"
        ));
    }
    let path = if path == "." {
        Vec::new()
    } else {
        path.split('.').map(str::to_owned).collect()
    };
    Ok(Clause { path, test })
}

impl Clause {
    fn holds(&self, root: &Value) -> bool {
        let Some(value) = lookup(root, &self.path) else {
            return matches!(self.test, Some((Op::Ne, _)));
        };
        let Some((op, expected)) = &self.test else {
            return !matches!(value, Value::Null | Value::Bool(false)) && value != 0 && value != "";
        };
        match op {
            Op::Eq => equal(&value, expected),
            Op::Ne => !equal(&value, expected),
            op => match order(&value, expected) {
                Some(o) => match op {
                    Op::Lt => o == Ordering::Less,
                    Op::Le => o != Ordering::Greater,
                    Op::Gt => o == Ordering::Greater,
                    _ => o != Ordering::Less,
                },
                None => false,
            },
        }
    }
}

fn lookup(root: &Value, path: &[String]) -> Option<Value> {
    let mut at = root.clone();
    for name in path {
        at = match (&at, name.as_str()) {
            (Value::Array(a), "len") => Value::from(a.len()),
            (Value::Object(o), "len") if !o.contains_key("len") => Value::from(o.len()),
            (Value::String(s), "len") => Value::from(s.chars().count()),
            (Value::Array(a), index) => a.get(index.parse::<usize>().ok()?)?.clone(),
            (Value::Object(o), key) => o.get(key)?.clone(),
            _ => return None,
        };
    }
    Some(at)
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(condition: &str, value: Value) -> bool {
        Condition::parse(condition).unwrap().holds(&value)
    }

    #[test]
    fn comparisons_paths_and_conjunctions() {
        let state = json!({"count": 10, "done": true, "name": "b", "items": [1, 2, 3],
                           "a": {"b": [{"c": "x"}]}});
        assert!(holds("count >= 10", state.clone()));
        assert!(!holds("count > 10", state.clone()));
        assert!(holds("count == 10.0", state.clone()));
        assert!(holds("done", state.clone()));
        assert!(holds("done == true && name == b", state.clone()));
        assert!(holds("name == \"b\"", state.clone()));
        assert!(holds("name < c", state.clone()));
        assert!(holds("items.len == 3 && items.0 == 1", state.clone()));
        assert!(holds("a.b.0.c == x", state.clone()));
        assert!(!holds("missing", state.clone()));
        assert!(holds("missing != 1", state.clone()));
        assert!(
            !holds("name > 3", state.clone()),
            "a string and a number do not order"
        );
        assert!(holds(". == 5", json!(5)));
        for bad in ["", "count >=", ">= 3", "count >= 1 && ", "a b == 1"] {
            assert!(Condition::parse(bad).is_err(), "{bad:?}");
        }
    }
}
