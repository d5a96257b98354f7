//! A minimal RFC 4180 record splitter for rate decks: one record per line, fields
//! separated by commas, optionally double-quoted (`""` inside quotes is a quote).
//! Fields are borrowed from the line unless they contain an escaped quote.

use std::borrow::Cow;

/// Splits one line into `out` (cleared first). Errors name what is wrong.
pub fn split_record<'a>(line: &'a str, out: &mut Vec<Cow<'a, str>>) -> Result<(), String> {
    out.clear();
    let bytes = line.as_bytes();
    let mut i = 0;
    loop {
        if bytes.get(i) == Some(&b'"') {
            let start = i + 1;
            let mut j = start;
            let mut escaped = false;
            loop {
                match bytes.get(j) {
                    None => return Err("unterminated quoted field".into()),
                    Some(b'"') if bytes.get(j + 1) == Some(&b'"') => {
                        escaped = true;
                        j += 2;
                    }
                    Some(b'"') => break,
                    Some(_) => j += 1,
                }
            }
            let raw = &line[start..j];
            out.push(if escaped {
                Cow::Owned(raw.replace("\"\"", "\""))
            } else {
                Cow::Borrowed(raw)
            });
            i = j + 1;
            match bytes.get(i) {
                None => return Ok(()),
                Some(b',') => i += 1,
                Some(_) => return Err("text after a closing quote".into()),
            }
        } else {
            let end = line[i..].find(',').map_or(line.len(), |p| i + p);
            out.push(Cow::Borrowed(line[i..end].trim()));
            if end == line.len() {
                return Ok(());
            }
            i = end + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str) -> Result<Vec<String>, String> {
        let mut v = Vec::new();
        split_record(line, &mut v)?;
        Ok(v.into_iter().map(Cow::into_owned).collect())
    }

    #[test]
    fn splits_plain_and_quoted_fields() {
        assert_eq!(split("1,a,0.1").unwrap(), ["1", "a", "0.1"]);
        assert_eq!(split("1, a ,").unwrap(), ["1", "a", ""]);
        assert_eq!(
            split("\"1\",\"a,b\",\"x\"\"y\"").unwrap(),
            ["1", "a,b", "x\"y"]
        );
        assert_eq!(split("").unwrap(), [""]);
        assert!(split("\"open").is_err());
        assert!(split("\"a\"b,c").is_err());
    }
}
