//! An expression's worst-case cost as a function of its inputs' sizes, worked out once when it is
//! compiled and evaluated per request before it runs.
//!
//! Every term costs one step; a comprehension's condition and step cost their steps once per
//! element of the collection it walks. How large that collection can be follows from where it
//! comes from: a collection of the inputs (or a part of one) holds at most the largest one's
//! elements, a concatenation the sum of its operands', a literal its own, a list split from a
//! string the longest string's length; anything else (a rule's variables, a list a function
//! returns) at most every element of the inputs together. Functions that walk collections
//! themselves (`in`, `sets.*`, `distinct`, `sum`, …) cost that walk.
//!
//! A collection named by a path from a bound input or variable (`object.spec.containers`,
//! `variables.allowed`) is measured when the expression is evaluated, its inputs and earlier
//! variables bound: the walk then costs its actual length, not the worst case of its kind.

use cel::IdedExpr;
use cel::common::ast::{EntryExpr, Expr};

/// The sizes of one evaluation's inputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// The elements of the largest collection (list or map).
    pub largest: u64,
    /// The elements of every collection, added up.
    pub total: u64,
    /// The length of the longest string.
    pub longest_string: u64,
}

impl Sizes {
    /// Adds another input's sizes (its collections join these).
    pub fn absorb(&mut self, other: Sizes) {
        self.largest = self.largest.max(other.largest);
        self.total = self.total.saturating_add(other.total);
        self.longest_string = self.longest_string.max(other.longest_string);
    }
}

/// How many elements a walked collection can hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Factor {
    /// Collections of the inputs, each at most the largest.
    inputs: u64,
    /// At most every element of the inputs.
    total: bool,
    /// Split from a string: at most the longest string's length.
    strings: bool,
    /// Literal elements.
    literal: u64,
    /// Collections at paths from bound values (indexes into [`Paths`]), measured when
    /// evaluated; one that cannot be measured counts as every element of the inputs (`true`)
    /// or the largest collection's.
    measured: Vec<(u32, bool)>,
}

/// Paths from bound values (`["variables", "allowed"]`) whose collections a cost measures.
pub(crate) type Paths = Vec<Vec<std::sync::Arc<String>>>;

/// Measures the collection at a path (`None`: it cannot be told; the worst case stands).
pub(crate) type Measure<'a> = &'a dyn Fn(&[std::sync::Arc<String>]) -> Option<u64>;

impl Factor {
    fn at(&self, s: Sizes, paths: &Paths, measure: Measure<'_>) -> u64 {
        let mut n = self.literal;
        if self.total {
            n = n.saturating_add(s.total);
        } else {
            n = n.saturating_add(self.inputs.saturating_mul(s.largest));
        }
        if self.strings {
            n = n.saturating_add(s.longest_string);
        }
        for (i, total) in &self.measured {
            let m = paths
                .get(*i as usize)
                .and_then(|p| measure(p))
                .unwrap_or(if *total { s.total } else { s.largest });
            n = n.saturating_add(m);
        }
        n
    }

    fn plus(mut self, o: Factor) -> Factor {
        self.inputs = self.inputs.saturating_add(o.inputs);
        self.total |= o.total;
        self.strings |= o.strings;
        self.literal = self.literal.saturating_add(o.literal);
        self.measured.extend(o.measured);
        self
    }

    const TOTAL: Factor = Factor {
        inputs: 0,
        total: true,
        strings: false,
        literal: 0,
        measured: Vec::new(),
    };
    const INPUT: Factor = Factor {
        inputs: 1,
        total: false,
        strings: false,
        literal: 0,
        measured: Vec::new(),
    };
}

/// Steps, and loops of steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    steps: u64,
    loops: Vec<(Factor, Cost)>,
}

impl Cost {
    /// The worst case over inputs of these sizes (saturating), the collections at `paths`
    /// measured by `measure`.
    pub(crate) fn at(&self, s: Sizes, paths: &Paths, measure: Measure<'_>) -> u64 {
        let mut c = self.steps;
        for (f, body) in &self.loops {
            c = c.saturating_add(
                f.at(s, paths, measure)
                    .saturating_mul(body.at(s, paths, measure)),
            );
        }
        c
    }

    fn add(&mut self, o: Cost) {
        self.steps = self.steps.saturating_add(o.steps);
        self.loops.extend(o.loops);
    }

    fn walk(f: Factor, body: Cost) -> Cost {
        Cost {
            steps: 0,
            loops: vec![(f, body)],
        }
    }
}

/// Functions that walk a collection once (their argument's or receiver's).
const LINEAR: &[&str] = &[
    "@in",
    "sum",
    "min",
    "max",
    "indexOf",
    "lastIndexOf",
    "join",
    "flatten",
    "reverse",
    "slice",
    "isSorted",
    "size",
];
/// Functions that compare two collections element by element.
const QUADRATIC: &[&str] = &[
    "sets.contains",
    "sets.equivalent",
    "sets.intersects",
    "distinct",
    "sort",
];
/// Functions that make a list out of a string.
pub(crate) const STRING_TO_LIST: &[&str] = &["split", "findAll", "chars"];

/// The cost of `e` (whose depth was checked: this recursion is bounded); the paths its walks
/// measure are added to `paths`.
pub(crate) fn cost(e: &IdedExpr, paths: &mut Paths) -> Cost {
    let mut c = Cost {
        steps: 1,
        loops: Vec::new(),
    };
    match &e.expr {
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        Expr::Select(s) => c.add(cost(&s.operand, paths)),
        Expr::Call(call) => {
            if let Some(t) = &call.target {
                c.add(cost(t, paths));
            }
            for a in &call.args {
                c.add(cost(a, paths));
            }
            let name = qualified(call);
            if LINEAR.contains(&name.as_str()) {
                c.add(Cost::walk(
                    Factor::TOTAL,
                    Cost {
                        steps: 1,
                        loops: vec![],
                    },
                ));
            } else if QUADRATIC.contains(&name.as_str()) {
                c.add(Cost::walk(
                    Factor::TOTAL,
                    Cost::walk(
                        Factor::TOTAL,
                        Cost {
                            steps: 1,
                            loops: vec![],
                        },
                    ),
                ));
            }
        }
        Expr::List(l) => {
            for x in &l.elements {
                c.add(cost(x, paths));
            }
        }
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    c.add(cost(&me.key, paths));
                    c.add(cost(&me.value, paths));
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    c.add(cost(&f.value, paths));
                }
            }
        }
        Expr::Comprehension(k) => {
            c.add(cost(&k.iter_range, paths));
            c.add(cost(&k.accu_init, paths));
            c.add(cost(&k.result, paths));
            let mut body = cost(&k.loop_cond, paths);
            body.add(cost(&k.loop_step, paths));
            let f = factor(&k.iter_range, paths);
            c.add(Cost::walk(f, body));
        }
    }
    c
}

/// A call's name, with its library's namespace (`sets.contains`).
fn qualified(call: &cel::common::ast::CallExpr) -> String {
    match call.target.as_deref() {
        Some(IdedExpr {
            expr: Expr::Ident(ns),
            ..
        }) if crate::compile::FUNCTION_NAMESPACES.contains(&ns.as_str()) => {
            format!("{ns}.{}", call.func_name)
        }
        _ => call.func_name.clone(),
    }
}

/// How many elements the collection `range` evaluates to can hold.
fn factor(range: &IdedExpr, paths: &mut Paths) -> Factor {
    match &range.expr {
        Expr::List(l) => Factor {
            literal: l.elements.len() as u64,
            ..Factor::default()
        },
        Expr::Map(m) => Factor {
            literal: m.entries.len() as u64,
            ..Factor::default()
        },
        Expr::Ident(_) | Expr::Select(_) => {
            // A rule's variables may be concatenations of the inputs' collections.
            let total = matches!(root(range), Some("variables") | None);
            // Measured when evaluated, if it is a path from something bound (an iteration
            // variable is not: its paths stand at their worst case).
            match select_path(range) {
                Some(p) => {
                    let i = paths.iter().position(|q| *q == p).unwrap_or_else(|| {
                        paths.push(p);
                        paths.len() - 1
                    });
                    Factor {
                        measured: vec![(u32::try_from(i).unwrap_or(u32::MAX), total)],
                        ..Factor::default()
                    }
                }
                None if total => Factor::TOTAL,
                None => Factor::INPUT,
            }
        }
        // `map`, `filter`: no more elements than the collection they walk.
        Expr::Comprehension(k) => factor(&k.iter_range, paths),
        Expr::Call(call) => match call.func_name.as_str() {
            "_+_" => call
                .args
                .iter()
                .fold(Factor::default(), |f, a| f.plus(factor(a, paths))),
            "_?_:_" => call
                .args
                .iter()
                .skip(1)
                .fold(Factor::default(), |f, a| f.plus(factor(a, paths))),
            n if STRING_TO_LIST.contains(&n) => Factor {
                strings: true,
                ..Factor::default()
            },
            _ => Factor::TOTAL,
        },
        _ => Factor::TOTAL,
    }
}

/// A chain of selections from an identifier, as names (`["object", "spec", "containers"]`);
/// `None` for anything else (a `has()` test among them, an index).
fn select_path(e: &IdedExpr) -> Option<Vec<std::sync::Arc<String>>> {
    let mut names = Vec::new();
    let mut e = e;
    loop {
        match &e.expr {
            Expr::Ident(name) => {
                names.push(std::sync::Arc::new(name.clone()));
                names.reverse();
                return Some(names);
            }
            Expr::Select(s) if !s.test => {
                names.push(std::sync::Arc::new(s.field.clone()));
                e = &s.operand;
            }
            _ => return None,
        }
    }
}

/// The identifier a chain of selections starts from.
fn root(e: &IdedExpr) -> Option<&str> {
    let mut e = e;
    loop {
        match &e.expr {
            Expr::Ident(name) => return Some(name),
            Expr::Select(s) => e = &s.operand,
            _ => return None,
        }
    }
}
