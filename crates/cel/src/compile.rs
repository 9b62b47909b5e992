//! Compiling an expression once: parsing, then the static checks that keep evaluation bounded.

use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr};
use cel::{IdedExpr, Program};

use crate::cost::{Cost, Sizes, cost};
use crate::{MAX_EXPRESSION_BYTES, MAX_NESTING, MAX_TERMS};

/// The deepest bracket nesting the parser is handed (its recursion stays far from the stack's
/// end) and the deepest expression tree evaluation walks.
const MAX_DEPTH: u32 = 64;

/// Why an expression is refused when its policy is created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    /// Longer than [`MAX_EXPRESSION_BYTES`].
    #[error("the expression is {len} bytes long, more than the {max} allowed")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not CEL.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: i64,
        /// 0-based column, as CEL reports it.
        column: i64,
        /// What the parser says.
        message: String,
    },
    /// Nested deeper than the evaluator walks.
    #[error("the expression nests {depth} levels deep, more than the {max} allowed")]
    TooDeep {
        /// Its depth (brackets or terms).
        depth: u32,
        /// The limit.
        max: u32,
    },
    /// More terms than [`MAX_TERMS`].
    #[error("the expression has more than {max} terms")]
    TooManyTerms {
        /// The limit.
        max: u32,
    },
    /// Comprehensions nested deeper than [`MAX_NESTING`].
    #[error(
        "comprehensions (all, exists, map, filter, …) nest {depth} deep, more than the {max} allowed: \
         each level multiplies the work by the size of a list"
    )]
    TooMuchNesting {
        /// Its nesting.
        depth: u32,
        /// The limit.
        max: u32,
    },
    /// A construct the evaluator cannot run.
    #[error("{0} is not supported")]
    Unsupported(String),
    /// The parser did not finish within [`PARSE_BUDGET`] (its error recovery is exponential on
    /// some token soups), or too many such parses are still running.
    #[error("the expression could not be parsed within {seconds} s")]
    TooSlow {
        /// The budget.
        seconds: u64,
    },
    /// A variable no one binds.
    #[error("undeclared reference to {name:?} (the variables are {known})")]
    Undeclared {
        /// The identifier.
        name: String,
        /// The variables that exist, in words.
        known: String,
    },
}

/// A compiled expression: parsed once, checked, and what its worst case costs.
#[derive(Debug, Clone)]
pub struct Expression {
    program: Arc<Program>,
    source: Arc<str>,
    cost: Arc<(Cost, crate::cost::Paths)>,
    /// It reads only what a request binds once for all its rules (`object`, `oldObject`,
    /// `request`, `namespaceObject`): its value is the same in every rule of the request.
    request_only: bool,
    /// A hash of the source (a request's shared values are found by it).
    source_hash: u64,
    /// Lowered for the evaluator (`None`: the interpreter runs it).
    plan: Option<Arc<crate::plan::Plan>>,
}

/// The longest a parse may take. The `cel` parser's error recovery is exponential on some
/// malformed token soups (the `cel` fuzz target found 2 KB that take 78 s); a valid expression
/// of the longest length parses in milliseconds.
pub const PARSE_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// The most parses left running past their budget at once: past it, every expression is refused
/// until one ends (each is a thread the parser cannot be stopped in).
const LATE_PARSES: usize = 2;

/// Parses still running past their budget.
static LATE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Parses `source` on a thread of its own, waiting at most [`PARSE_BUDGET`]; a panic in the
/// parser (it has unfinished corners) is a refusal, never a crash.
fn parse(source: &str) -> Result<Result<Program, cel::ParseErrors>, CompileError> {
    use std::sync::atomic::{AtomicU8, Ordering};
    const RUNNING: u8 = 0;
    const ABANDONED: u8 = 1;
    const DONE: u8 = 2;
    let refused = || CompileError::Unsupported("an expression the parser fails on".into());
    if LATE.load(Ordering::Acquire) >= LATE_PARSES {
        return Err(CompileError::TooSlow {
            seconds: PARSE_BUDGET.as_secs(),
        });
    }
    let state = Arc::new(AtomicU8::new(RUNNING));
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let (text, mine) = (source.to_string(), state.clone());
    let spawned = std::thread::Builder::new()
        .name("cel-parse".into())
        .stack_size(64 << 20)
        .spawn(move || {
            let parsed = std::panic::catch_unwind(|| Program::compile(&text));
            let _ = tx.send(parsed);
            if mine.swap(DONE, Ordering::AcqRel) == ABANDONED {
                LATE.fetch_sub(1, Ordering::AcqRel);
            }
        });
    if spawned.is_err() {
        // No thread to be had: parsed here, unbounded.
        return std::panic::catch_unwind(|| Program::compile(source)).map_err(|_| refused());
    }
    let parsed = match rx.recv_timeout(PARSE_BUDGET) {
        Ok(parsed) => parsed,
        Err(_) if state.swap(ABANDONED, Ordering::AcqRel) == RUNNING => {
            LATE.fetch_add(1, Ordering::AcqRel);
            return Err(CompileError::TooSlow {
                seconds: PARSE_BUDGET.as_secs(),
            });
        }
        // It finished just now.
        Err(_) => rx.try_recv().map_err(|_| refused())?,
    };
    parsed.map_err(|_| refused())
}

/// CEL's type names, which are identifiers too (`x == null_type`).
const TYPE_NAMES: &[&str] = &[
    "int",
    "uint",
    "double",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
];

/// The namespaces of library functions (`sets.contains`, `strings.quote`, `math.greatest`).
pub(crate) const FUNCTION_NAMESPACES: &[&str] =
    &["sets", "strings", "math", "lists", "base64", "jsonpatch"];

impl Expression {
    /// Compiles `source`, whose free variables must be among `variables` (`object`,
    /// `oldObject`, `request`, …).
    pub fn compile(source: &str, variables: &[&str]) -> Result<Expression, CompileError> {
        if source.len() > MAX_EXPRESSION_BYTES {
            return Err(CompileError::TooLong {
                len: source.len(),
                max: MAX_EXPRESSION_BYTES,
            });
        }
        let depth = bracket_depth(source);
        if depth > MAX_DEPTH {
            return Err(CompileError::TooDeep {
                depth,
                max: MAX_DEPTH,
            });
        }
        let program = parse(source)?.map_err(|e| {
            let first = e.errors.first();
            CompileError::Syntax {
                line: first.map_or(0, |p| i64::try_from(p.pos.0).unwrap_or(0)),
                column: first.map_or(0, |p| i64::try_from(p.pos.1).unwrap_or(0)),
                message: first.map_or_else(|| e.to_string(), |p| p.msg.clone()),
            }
        })?;
        let shape = shape(program.expression(), variables)?;
        if shape.nesting > MAX_NESTING {
            return Err(CompileError::TooMuchNesting {
                depth: shape.nesting,
                max: MAX_NESTING,
            });
        }
        let mut paths = Vec::new();
        let cost = cost(program.expression(), &mut paths);
        Ok(Expression {
            plan: crate::plan::Plan::lower(program.expression()).map(Arc::new),
            source_hash: {
                use std::hash::{Hash, Hasher};
                let mut h = std::hash::DefaultHasher::new();
                source.hash(&mut h);
                h.finish()
            },
            program: Arc::new(program),
            source: source.into(),
            cost: Arc::new((cost, paths)),
            request_only: shape
                .free
                .iter()
                .all(|v| crate::REQUEST_VARIABLES.contains(&v.as_str())),
        })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether it reads only the request's own variables (its value is then the same in every
    /// rule of a request, worked out once).
    pub fn request_only(&self) -> bool {
        self.request_only
    }

    pub(crate) fn source_arc(&self) -> &Arc<str> {
        &self.source
    }

    pub(crate) fn source_hash(&self) -> u64 {
        self.source_hash
    }

    /// The worst-case cost of evaluating it over inputs of these sizes, in steps
    /// ([`crate::cost`]).
    pub fn cost_bound(&self, sizes: Sizes) -> u64 {
        self.cost.0.at(sizes, &self.cost.1, &|_| None)
    }

    /// [`Expression::cost_bound`] with the collections at paths from bound values measured
    /// (`measure`: their lengths, `None` when unknown).
    pub(crate) fn cost_bound_measured(
        &self,
        sizes: Sizes,
        measure: crate::cost::Measure<'_>,
    ) -> u64 {
        self.cost.0.at(sizes, &self.cost.1, measure)
    }

    pub(crate) fn program(&self) -> &Program {
        &self.program
    }

    pub(crate) fn plan(&self) -> Option<&crate::plan::Plan> {
        self.plan.as_deref()
    }

    /// Whether the evaluator runs it from a plan (else the `cel` crate's interpreter).
    pub fn planned(&self) -> bool {
        self.plan.is_some()
    }
}

/// The deepest nesting of brackets in `source` (brackets inside string literals counted too:
/// a cheap bound taken before the parser recurses).
fn bracket_depth(source: &str) -> u32 {
    let (mut depth, mut max) = (0u32, 0u32);
    for b in source.bytes() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

struct Shape {
    terms: u32,
    nesting: u32,
    /// The free variables it reads.
    free: Vec<String>,
}

/// Walks the tree with a stack of its own (a tree as deep as the parser allows never recurses
/// here): its terms, depth, comprehension nesting and free variables.
fn shape(root: &IdedExpr, variables: &[&str]) -> Result<Shape, CompileError> {
    // (expression, depth, comprehension nesting, bound names)
    let mut stack: Vec<(&IdedExpr, u32, u32, Arc<Vec<String>>)> =
        vec![(root, 1, 0, Arc::new(Vec::new()))];
    let mut out = Shape {
        terms: 0,
        nesting: 0,
        free: Vec::new(),
    };
    while let Some((e, depth, nesting, bound)) = stack.pop() {
        out.terms += 1;
        if out.terms > MAX_TERMS {
            return Err(CompileError::TooManyTerms { max: MAX_TERMS });
        }
        if depth > MAX_DEPTH {
            return Err(CompileError::TooDeep {
                depth,
                max: MAX_DEPTH,
            });
        }
        out.nesting = out.nesting.max(nesting);
        let d = depth + 1;
        match &e.expr {
            Expr::Ident(name) => {
                if !bound.iter().any(|b| b == name)
                    && !variables.contains(&name.as_str())
                    && !TYPE_NAMES.contains(&name.as_str())
                {
                    return Err(CompileError::Undeclared {
                        name: name.clone(),
                        known: variables.join(", "),
                    });
                }
                if !bound.iter().any(|b| b == name) && !out.free.contains(name) {
                    out.free.push(name.clone());
                }
            }
            Expr::Literal(_) => {}
            Expr::Select(s) => stack.push((&s.operand, d, nesting, bound.clone())),
            Expr::Call(c) => {
                match c.target.as_deref() {
                    // `sets.contains(…)`, `strings.quote(…)`: a library's namespace, no variable.
                    Some(IdedExpr {
                        expr: Expr::Ident(ns),
                        ..
                    }) if FUNCTION_NAMESPACES.contains(&ns.as_str())
                        && !bound.iter().any(|b| b == ns)
                        && !variables.contains(&ns.as_str()) => {}
                    Some(t) => stack.push((t, d, nesting, bound.clone())),
                    None => {}
                }
                for a in &c.args {
                    stack.push((a, d, nesting, bound.clone()));
                }
            }
            Expr::List(l) => {
                for x in &l.elements {
                    stack.push((x, d, nesting, bound.clone()));
                }
            }
            Expr::Map(m) => {
                for entry in &m.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(me) => {
                            stack.push((&me.key, d, nesting, bound.clone()));
                            stack.push((&me.value, d, nesting, bound.clone()));
                        }
                        EntryExpr::StructField(_) => {
                            return Err(CompileError::Unsupported(
                                "a message field in a map literal".into(),
                            ));
                        }
                    }
                }
            }
            Expr::Comprehension(c) => {
                stack.push((&c.iter_range, d, nesting, bound.clone()));
                stack.push((&c.accu_init, d, nesting, bound.clone()));
                let mut inner = (*bound).clone();
                inner.push(c.iter_var.clone());
                inner.extend(c.iter_var2.iter().cloned());
                inner.push(c.accu_var.clone());
                let inner = Arc::new(inner);
                for x in [&c.loop_cond, &c.loop_step, &c.result] {
                    stack.push((x, d, nesting + 1, inner.clone()));
                }
            }
            Expr::Struct(s) => {
                return Err(CompileError::Unsupported(format!(
                    "constructing a message ({})",
                    s.type_name
                )));
            }
            Expr::Unspecified => {
                return Err(CompileError::Unsupported("an empty expression".into()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: &[&str] = &["object", "oldObject"];

    #[test]
    fn a_valid_expression_compiles_with_its_shape() {
        let e = Expression::compile(
            "object.spec.containers.all(c, c.ports.all(p, p.containerPort > 1024))",
            VARS,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let at = |largest, total, longest_string| {
            e.cost_bound(Sizes {
                largest,
                total,
                longest_string,
            })
        };
        // Two walks of input collections: quadratic in the largest, whatever else there is.
        let (small, big) = (at(10, 1_000, 0), at(100, 1_000, 1_000_000));
        assert!(small < 1_000, "{small}");
        assert!(big > 50 * small && big < 150 * small, "{small} {big}");
    }

    #[test]
    fn a_walk_of_a_derived_list_counts_every_input_element() {
        let sizes = |largest, total| Sizes {
            largest,
            total,
            longest_string: 0,
        };
        let vars = &["object", "variables"];
        let concat = Expression::compile("(object.a + object.b).all(x, x > 0)", vars).unwrap();
        let variable = Expression::compile("variables.xs.all(x, x > 0)", vars).unwrap();
        let literal = Expression::compile("[1, 2, 3].all(x, x > 0)", vars).unwrap();
        // Two operands: at most twice the largest; a variable: at most everything.
        assert!(concat.cost_bound(sizes(10, 10_000)) < 300);
        assert!(variable.cost_bound(sizes(10, 10_000)) > 10_000);
        assert_eq!(
            literal.cost_bound(sizes(1_000, 1_000_000)),
            literal.cost_bound(sizes(0, 0))
        );
        // A set comparison walks both sides.
        let sets = Expression::compile("sets.contains(object.a, object.b)", vars).unwrap();
        assert!(sets.cost_bound(sizes(10, 2_000)) >= 4_000_000);
    }

    #[test]
    fn refusals_say_where_and_why() {
        let syntax = Expression::compile("object.spec.containers.all(c, ", VARS).unwrap_err();
        assert!(
            matches!(syntax, CompileError::Syntax { line: 1, .. }),
            "{syntax:?}"
        );
        let undeclared = Expression::compile("objekt.metadata.name == 'a'", VARS).unwrap_err();
        assert_eq!(
            undeclared.to_string(),
            "undeclared reference to \"objekt\" (the variables are object, oldObject)"
        );
        // A comprehension's own variables are declared inside it only.
        assert!(Expression::compile("object.a.all(x, x > 1)", VARS).is_ok());
        assert!(matches!(
            Expression::compile("object.a.all(x, x > 1) && x == 1", VARS),
            Err(CompileError::Undeclared { .. })
        ));
        let long = format!("'{}' == 'a'", "a".repeat(MAX_EXPRESSION_BYTES));
        assert!(matches!(
            Expression::compile(&long, VARS),
            Err(CompileError::TooLong { .. })
        ));
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(matches!(
            Expression::compile(&deep, VARS),
            Err(CompileError::TooDeep { .. })
        ));
        let nested = "object.a.all(a, a.b.all(b, b.c.all(c, c.d.all(d, d > 0))))";
        assert!(matches!(
            Expression::compile(nested, VARS),
            Err(CompileError::TooMuchNesting { depth: 4, .. })
        ));
        let chain = vec!["1"; 3000].join(" + ");
        assert!(Expression::compile(&chain, VARS).is_err());
    }

    /// Malformed text the `cel` parser takes over a minute on (found by the `cel` fuzz target):
    /// refused within the parse budget, and expressions after it still compile.
    #[test]
    fn a_parse_that_runs_away_is_refused_in_time() {
        let soup = include_str!("../tests/slow-parse.txt");
        let started = std::time::Instant::now();
        let refused = Expression::compile(soup.trim_end(), VARS).unwrap_err();
        assert_eq!(
            refused,
            CompileError::TooSlow {
                seconds: PARSE_BUDGET.as_secs()
            }
        );
        assert!(
            started.elapsed() < PARSE_BUDGET * 3,
            "{:?}",
            started.elapsed()
        );
        assert!(Expression::compile("object.a == 1", VARS).is_ok());
    }

    #[test]
    fn splitting_strings_counts_the_longest_string() {
        let e = Expression::compile("object.s.split(',').all(x, x != '')", VARS).unwrap();
        let with = |longest_string| Sizes {
            largest: 1,
            total: 1,
            longest_string,
        };
        assert!(e.cost_bound(with(1_000_000)) > crate::COST_LIMIT);
        assert!(e.cost_bound(with(10)) < crate::COST_LIMIT);
    }
}
