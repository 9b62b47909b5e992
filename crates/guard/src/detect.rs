//! Placeholder until the structural detectors land: SQL and HTML through libinjection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Injection {
    Sql,
    Html,
    Shell,
    PathTraversal,
    RemoteInclude,
    Php,
    Java,
    Template,
}
impl Injection {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sql => "sql",
            Self::Html => "html",
            Self::Shell => "shell",
            Self::PathTraversal => "path-traversal",
            Self::RemoteInclude => "remote-include",
            Self::Php => "php",
            Self::Java => "java",
            Self::Template => "template",
        }
    }
}
pub fn detect(value: &str) -> Option<Injection> {
    if libinjectionrs::detect_sqli(value.as_bytes()).is_injection() {
        return Some(Injection::Sql);
    }
    if libinjectionrs::detect_xss(value.as_bytes()).is_injection() {
        return Some(Injection::Html);
    }
    None
}
