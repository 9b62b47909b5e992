//! Route templates: `/users/123/orders` → `/users/{int}/orders`. Numeric, UUID, hex and long
//! token segments are variables at once; a position where many distinct literals share the
//! same neighbours becomes `{name}` when criteria are learned.

/// The placeholder a segment stands for on its own, if it is a variable.
pub fn placeholder(segment: &str) -> Option<&'static str> {
    let b = segment.as_bytes();
    if b.is_empty() {
        return None;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return Some("{int}");
    }
    if b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
    {
        return Some("{uuid}");
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if b.len() >= 8 && digits > 0 && b.iter().all(u8::is_ascii_hexdigit) {
        return Some("{hex}");
    }
    let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
    if b.len() >= 16
        && digits > 0
        && letters > 0
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
    {
        return Some("{token}");
    }
    None
}

/// The template of a path given as segments.
pub fn template(segments: &[String]) -> String {
    if segments.is_empty() {
        return "/".into();
    }
    let mut t = String::new();
    for s in segments {
        t.push('/');
        match placeholder(s) {
            Some(p) => t.push_str(p),
            None => t.push_str(&escape(s)),
        }
    }
    t
}

/// Literal segments keep `{`, `}` and `/` out of the way of placeholders.
fn escape(s: &str) -> String {
    crate::exchange::clean_name(s)
        .replace('{', "%7B")
        .replace('}', "%7D")
}

/// One segment of a learned template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    /// `{int}`, `{uuid}`, `{hex}`, `{token}`: only segments of that shape.
    Typed(&'static str),
    /// `{name}`: any one segment.
    Any,
}

/// Parses a template string.
pub fn parse(template: &str) -> Vec<Segment> {
    template
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "{int}" => Segment::Typed("{int}"),
            "{uuid}" => Segment::Typed("{uuid}"),
            "{hex}" => Segment::Typed("{hex}"),
            "{token}" => Segment::Typed("{token}"),
            s if s.starts_with('{') && s.ends_with('}') => Segment::Any,
            s => Segment::Literal(s.to_string()),
        })
        .collect()
}

/// How well `segments` fit a parsed template: `None` when they do not, else the number of
/// literal segments matched (more is a better fit).
pub fn fit(template: &[Segment], segments: &[String]) -> Option<usize> {
    if template.len() != segments.len() {
        return None;
    }
    let mut literal = 0;
    for (t, s) in template.iter().zip(segments) {
        match t {
            Segment::Literal(l) => {
                if *l != escape(s) {
                    return None;
                }
                literal += 1;
            }
            Segment::Typed(p) => {
                if placeholder(s) != Some(p) {
                    return None;
                }
            }
            Segment::Any => {}
        }
    }
    Some(literal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }

    #[test]
    fn templates_variable_segments() {
        assert_eq!(template(&segs("/users/123/orders")), "/users/{int}/orders");
        assert_eq!(
            template(&segs("/o/123e4567-e89b-12d3-a456-426614174000")),
            "/o/{uuid}"
        );
        assert_eq!(template(&segs("/c/deadbeef01")), "/c/{hex}");
        assert_eq!(template(&segs("/s/aZ3kq9Lw0pQr7sTx")), "/s/{token}");
        assert_eq!(template(&segs("/about")), "/about");
        assert_eq!(template(&[]), "/");
        assert_eq!(template(&segs("/a{int}")), "/a%7Bint%7D");
    }

    #[test]
    fn fits_prefer_literals() {
        let t = parse("/users/{int}");
        assert_eq!(fit(&t, &segs("/users/9")), Some(1));
        assert_eq!(fit(&t, &segs("/users/x")), None);
        assert_eq!(fit(&parse("/files/{name}"), &segs("/files/a.txt")), Some(1));
        assert_eq!(fit(&t, &segs("/users/9/x")), None);
    }
}
