//! Numbers that JSON text can carry but a 64-bit integer or float cannot hold exactly.
//!
//! A JSON parser silently turns `12345678901234567890123` into `1.2345678901234568e22` and
//! `0.1000000000000000000001` into `0.1`. EOS refuses such a message instead of changing it:
//! what a person wrote is what an actor gets, or a dead letter says why not.

/// Checks every number in a JSON text; `Err` names the first that would change.
pub fn check_exact(text: &[u8]) -> Result<(), String> {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => i = skip_string(text, i + 1),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < text.len()
                    && matches!(text[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                check_number(&String::from_utf8_lossy(&text[start..i]))?;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// The index after the string that starts at `i` (just after its opening quote).
fn skip_string(text: &[u8], mut i: usize) -> usize {
    while i < text.len() {
        match text[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn check_number(token: &str) -> Result<(), String> {
    if !token.contains(['.', 'e', 'E']) {
        if token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok() {
            return Ok(());
        }
        return Err(format!("the integer {token} does not fit in 64 bits"));
    }
    let Ok(float) = token.parse::<f64>() else {
        return Ok(()); // not a number at all: the JSON parser reports it
    };
    if !float.is_finite() {
        return Err(format!(
            "the number {token} is too large for a 64-bit float"
        ));
    }
    if decimal(token) != decimal(&format!("{float:e}")) {
        return Err(format!(
            "the number {token} cannot be represented exactly (it would become {float})"
        ));
    }
    Ok(())
}

/// A decimal number as (negative, significant digits, exponent): the value is
/// `digits × 10^exponent`, with no leading or trailing zeros in `digits`.
fn decimal(token: &str) -> (bool, String, i64) {
    let (negative, unsigned) = match token.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.trim_start_matches('+').parse::<i64>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = format!("{int}{frac}").trim_start_matches('0').to_owned();
    let mut exponent = exponent - frac.len() as i64;
    while digits.ends_with('0') {
        digits.pop();
        exponent += 1;
    }
    if digits.is_empty() {
        return (false, String::new(), 0);
    }
    (negative, digits, exponent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numbers_pass() {
        for text in [
            r#"{"a": 1, "b": -2.5, "c": 0.1, "d": 1e2, "e": 1.0, "f": -0.0}"#,
            "18446744073709551615",
            "-9223372036854775808",
            "3.141592653589793",
            r#"{"text": "99999999999999999999999 in a string is fine"}"#,
            r#"["\"12345678901234567890123"]"#,
        ] {
            assert_eq!(check_exact(text.as_bytes()), Ok(()), "{text}");
        }
    }

    #[test]
    fn numbers_that_would_change_are_refused() {
        for (text, why) in [
            ("18446744073709551616", "does not fit in 64 bits"),
            (r#"{"x": -9223372036854775809}"#, "does not fit in 64 bits"),
            ("0.1000000000000000000001", "cannot be represented exactly"),
            (
                "3.14159265358979323846",
                "it would become 3.141592653589793",
            ),
            ("1e400", "too large"),
        ] {
            let err = check_exact(text.as_bytes()).unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }
}
