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

/// How many elements a walked collection can hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Factor {
    /// Collections of the inputs, each at most the largest.
    inputs: u64,
    /// At most every element of the inputs.
    total: bool,
    /// Split from a string: at most the longest string's length.
    strings: bool,
    /// Literal elements.
    literal: u64,
}

impl Factor {
    fn at(self, s: Sizes) -> u64 {
        let mut n = self.literal;
        if self.total {
            n = n.saturating_add(s.total);
        } else {
            n = n.saturating_add(self.inputs.saturating_mul(s.largest));
        }
        if self.strings {
            n = n.saturating_add(s.longest_string);
        }
        n
    }

    fn plus(self, o: Factor) -> Factor {
        Factor {
            inputs: self.inputs.saturating_add(o.inputs),
            total: self.total || o.total,
            strings: self.strings || o.strings,
            literal: self.literal.saturating_add(o.literal),
        }
    }

    const TOTAL: Factor = Factor {
        inputs: 0,
        total: true,
        strings: false,
        literal: 0,
    };
    const INPUT: Factor = Factor {
        inputs: 1,
        total: false,
        strings: false,
        literal: 0,
    };
}

/// Steps, and loops of steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cost {
    steps: u64,
    loops: Vec<(Factor, Cost)>,
}

impl Cost {
    /// The worst case over inputs of these sizes (saturating).
    pub(crate) fn at(&self, s: Sizes) -> u64 {
        let mut c = self.steps;
        for (f, body) in &self.loops {
            c = c.saturating_add(f.at(s).saturating_mul(body.at(s)));
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

/// The cost of `e` (whose depth was checked: this recursion is bounded).
pub(crate) fn cost(e: &IdedExpr) -> Cost {
    let mut c = Cost {
        steps: 1,
        loops: Vec::new(),
    };
    match &e.expr {
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        Expr::Select(s) => c.add(cost(&s.operand)),
        Expr::Call(call) => {
            if let Some(t) = &call.target {
                c.add(cost(t));
            }
            for a in &call.args {
                c.add(cost(a));
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
                c.add(cost(x));
            }
        }
        Expr::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    c.add(cost(&me.key));
                    c.add(cost(&me.value));
                }
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                if let EntryExpr::StructField(f) = &entry.expr {
                    c.add(cost(&f.value));
                }
            }
        }
        Expr::Comprehension(k) => {
            c.add(cost(&k.iter_range));
            c.add(cost(&k.accu_init));
            c.add(cost(&k.result));
            let mut body = cost(&k.loop_cond);
            body.add(cost(&k.loop_step));
            c.add(Cost::walk(factor(&k.iter_range), body));
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
fn factor(range: &IdedExpr) -> Factor {
    match &range.expr {
        Expr::List(l) => Factor {
            literal: l.elements.len() as u64,
            ..Factor::default()
        },
        Expr::Map(m) => Factor {
            literal: m.entries.len() as u64,
            ..Factor::default()
        },
        Expr::Ident(_) | Expr::Select(_) => match root(range) {
            // A rule's variables may be concatenations of the inputs' collections.
            Some("variables") | None => Factor::TOTAL,
            Some(_) => Factor::INPUT,
        },
        // `map`, `filter`: no more elements than the collection they walk.
        Expr::Comprehension(k) => factor(&k.iter_range),
        Expr::Call(call) => match call.func_name.as_str() {
            "_+_" => call
                .args
                .iter()
                .fold(Factor::default(), |f, a| f.plus(factor(a))),
            "_?_:_" => call
                .args
                .iter()
                .skip(1)
                .fold(Factor::default(), |f, a| f.plus(factor(a))),
            n if STRING_TO_LIST.contains(&n) => Factor {
                strings: true,
                ..Factor::default()
            },
            _ => Factor::TOTAL,
        },
        _ => Factor::TOTAL,
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
