//! JSON in and out of Rune, refusing what would change on the way (non-finite floats, which
//! JSON cannot write and a serializer would silently turn into `null`).

use rune::Value;
use rune::runtime::{Object, Vec as RuneVec};

pub fn to_rune(value: &serde_json::Value) -> Result<Value, String> {
    serde_json::from_value(value.clone()).map_err(|e| format!("cannot pass to the script: {e}"))
}

pub fn to_json(value: &Value) -> Result<serde_json::Value, String> {
    check_finite(value)?;
    serde_json::to_value(value).map_err(|e| e.to_string())
}

fn check_finite(value: &Value) -> Result<(), String> {
    if let Ok(float) = value.as_float() {
        if !float.is_finite() {
            return Err(format!("{float} is not a number JSON can hold"));
        }
    } else if let Ok(vec) = value.borrow_ref::<RuneVec>() {
        for item in vec.iter() {
            check_finite(item)?;
        }
    } else if let Ok(object) = value.borrow_ref::<Object>() {
        for (_, item) in object.iter() {
            check_finite(item)?;
        }
    } else if let Ok(tuple) = value.borrow_tuple_ref() {
        for item in tuple.iter() {
            check_finite(item)?;
        }
    }
    Ok(())
}
