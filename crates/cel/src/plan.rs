//! Expressions lowered once into a plan the evaluator walks directly.
//!
//! The `cel` crate's interpreter keeps variables in a map of scopes (a comprehension adds a scope
//! and rebinds its variables by name for every element), builds a key for every field it reads,
//! finds `has()` by printing every key of a map, and looks every function up by name. A plan
//! resolves all of that when the policy is stored: variables become slots, fields keys, the
//! common functions direct calls, a literal pattern a compiled regular expression.
//!
//! A plan means exactly what the interpreter means — the same operators (the `cel` crate's own
//! implementations are called), the same order of evaluation, the same errors — and the
//! `cel` fuzz target and `tests::a_plan_answers_as_the_interpreter_does` hold both to it. Other
//! functions (Kubernetes' libraries, conversions) are called through the interpreter with their
//! arguments already worked out ([`Bridge`]); what a plan cannot express (optional values,
//! two-variable comprehensions, identifiers that are not variables) is not planned, and the
//! interpreter runs the whole expression.

use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr, operators as op};
use cel::objects::{Key, Map};
use cel::{ExecutionError, IdedExpr, Program, Value};

use crate::doc::Kind;
use crate::val::{Val, View, equal};

/// The namespaces of qualified library functions (`sets.contains`, `format.dns1123Label`,
/// `ip.isCanonical`): a call on one of these names is looked up as a function first.
const QUALIFIED: &[&str] = &[
    "base64",
    "format",
    "ip",
    "jsonpatch",
    "lists",
    "math",
    "sets",
    "strings",
];

/// The macros: a call of these names that the parser did not expand is left to the interpreter
/// (its functions of these names read identifiers, not values).
const MACROS: &[&str] = &[
    op::ALL,
    op::EXISTS,
    op::EXISTS_ONE,
    op::MAP,
    op::FILTER,
    op::HAS,
];

/// An expression, lowered.
#[derive(Debug)]
pub(crate) struct Plan {
    root: Node,
    /// Comprehension variables' slots.
    locals: usize,
}

/// Why a plan gave no value.
#[derive(Debug, Clone)]
pub(crate) enum Fail {
    /// What the interpreter would have said.
    Exec(ExecutionError),
    /// Where the interpreter panics (a comprehension over something else than a list or map).
    Internal,
}

impl From<ExecutionError> for Fail {
    fn from(e: ExecutionError) -> Fail {
        Fail::Exec(e)
    }
}

type Out = Result<Val, Fail>;

#[derive(Debug)]
enum Node {
    Lit(Value),
    /// A variable the request or the rule binds ([`crate::ADMISSION_VARIABLES`] index).
    Root(usize),
    /// A comprehension's variable.
    Local(usize),
    /// `base.k1.k2…`: the fields read in place, the last one cloned.
    Select(Box<Node>, Vec<Key>),
    /// `has(base.k1….kn)`: `base.k1…` read as selections, `kn` tested.
    Has(Box<Node>, Vec<Key>),
    Not(Box<Node>),
    Neg(Box<Node>),
    NotStrictlyFalse(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cond(Box<[Node; 3]>),
    Bin(Bin, Box<Node>, Box<Node>),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Loop(Box<Loop>),
    /// A function call: its operands (the target first, if any) worked out in order, then a
    /// direct implementation where it applies to them, the interpreter's otherwise.
    Call(Box<Call>),
    /// A call of a function that does not exist: the interpreter fails it before working out
    /// anything.
    Undeclared(Arc<String>),
}

#[derive(Debug, Clone, Copy)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
}

#[derive(Debug)]
struct Loop {
    range: Node,
    init: Node,
    iter: usize,
    accu: usize,
    cond: Node,
    step: Node,
    result: Node,
}

#[derive(Debug)]
struct Call {
    native: Option<Native>,
    /// The first operand is the target (worked out before the call, as the interpreter does;
    /// the arguments only when the function reads them).
    method: bool,
    operands: Vec<Node>,
    bridge: Bridge,
}

/// Functions done directly, for the operand types named (any other: the interpreter).
#[derive(Debug)]
enum Native {
    /// `size(x)`, `x.size()`: a list, map, string (bytes) or bytes.
    Size,
    /// `s.startsWith(t)`: strings.
    StartsWith,
    /// `s.endsWith(t)`: strings.
    EndsWith,
    /// `s.contains(t)` on strings, `l.contains(x)` on lists.
    Contains,
    /// `s.matches(p)`: strings; the pattern compiled now when it is a literal.
    Matches(Option<regex::Regex>),
    /// `x[i]`: anything but an optional value.
    Index,
    /// `a.compareTo(b)`, `a.isGreaterThan(b)`, `a.isLessThan(b)`: two Kubernetes quantities
    /// (semantic versions, and anything else, go through the interpreter).
    QuantityOrder(Order),
}

/// Which comparison of two quantities.
#[derive(Debug, Clone, Copy)]
enum Order {
    CompareTo,
    IsGreaterThan,
    IsLessThan,
}

/// A call made by the interpreter on values worked out already: `__t.f(__a0, …)`.
#[derive(Debug)]
struct Bridge {
    program: Program,
    /// The last answer to operands that were all strings. CEL functions are pure: the same
    /// strings get the same answer, and the same ones come again and again (`quantity('512Mi')`
    /// for every container of every replica).
    last: std::sync::Mutex<Option<(Vec<String>, Value)>>,
}

/// The most text a remembered call's operands may hold.
const REMEMBERED_BYTES: usize = 1024;

impl Bridge {
    fn new(program: Program) -> Bridge {
        Bridge {
            program,
            last: std::sync::Mutex::new(None),
        }
    }

    /// The last answer, if it was to these operands.
    fn remembered(&self, values: &[Val]) -> Option<Value> {
        // Another thread at it: not worth waiting for.
        let last = self.last.try_lock().ok()?;
        let (strings, answer) = last.as_ref()?;
        let same = strings.len() == values.len()
            && strings
                .iter()
                .zip(values)
                .all(|(s, v)| matches!(v.view(), View::Str(x) if x == s));
        same.then(|| answer.clone())
    }

    fn remember(&self, values: &[Val], answer: &Value) {
        let mut strings = Vec::with_capacity(values.len());
        let mut bytes = 0;
        for v in values {
            let View::Str(s) = v.view() else {
                return;
            };
            bytes += s.len();
            if bytes > REMEMBERED_BYTES {
                return;
            }
            strings.push(s.to_string());
        }
        if let Ok(mut last) = self.last.try_lock() {
            *last = Some((strings, answer.clone()));
        }
    }
}

/// The names the bridge binds its operands to.
const OPERANDS: [&str; 8] = [
    "__o0", "__o1", "__o2", "__o3", "__o4", "__o5", "__o6", "__o7",
];

impl Plan {
    /// `None`: the expression holds something a plan does not express.
    pub(crate) fn lower(e: &IdedExpr) -> Option<Plan> {
        let mut l = Lower {
            scopes: Vec::new(),
            depth: 0,
            locals: 0,
        };
        let root = l.node(e)?;
        Some(Plan {
            root,
            locals: l.locals,
        })
    }

    /// Evaluates over the bound variables (`roots`, by [`crate::ADMISSION_VARIABLES`] index).
    pub(crate) fn eval(&self, roots: &[Option<Val>]) -> Out {
        // Two slots per level of comprehension: on the stack up to the nesting allowed.
        const ON_STACK: usize = 2 * crate::MAX_NESTING as usize;
        let mut stack: [Val; ON_STACK] = std::array::from_fn(|_| Val::FALSE);
        let mut heap = Vec::new();
        let locals: &mut [Val] = if self.locals <= ON_STACK {
            &mut stack[..self.locals]
        } else {
            heap.resize(self.locals, Val::FALSE);
            &mut heap
        };
        Env {
            roots,
            locals,
            bridge: None,
        }
        .eval(&self.root)
    }
}

struct Lower {
    /// Comprehension variables in scope, innermost last: (name, slot).
    scopes: Vec<(String, usize)>,
    /// Comprehensions entered.
    depth: usize,
    locals: usize,
}

impl Lower {
    fn node(&mut self, e: &IdedExpr) -> Option<Node> {
        Some(match &e.expr {
            Expr::Literal(v) => Node::Lit(v.clone().into()),
            Expr::Ident(name) => self.ident(name)?,
            Expr::Select(s) => {
                let key = Key::String(Arc::new(s.field.clone()));
                let (base, mut keys) = match self.node(&s.operand)? {
                    Node::Select(base, keys) => (base, keys),
                    other => (Box::new(other), Vec::new()),
                };
                keys.push(key);
                if s.test {
                    Node::Has(base, keys)
                } else {
                    Node::Select(base, keys)
                }
            }
            Expr::List(l) => {
                if !l.optional_indices.is_empty() {
                    return None;
                }
                Node::List(self.nodes(&l.elements)?)
            }
            Expr::Map(m) => {
                let mut entries = Vec::with_capacity(m.entries.len());
                for entry in &m.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(me) if !me.optional => {
                            entries.push((self.node(&me.key)?, self.node(&me.value)?));
                        }
                        _ => return None,
                    }
                }
                Node::Map(entries)
            }
            Expr::Comprehension(c) => {
                if c.iter_var2.is_some() {
                    return None;
                }
                let range = self.node(&c.iter_range)?;
                let init = self.node(&c.accu_init)?;
                let (iter, accu) = (2 * self.depth, 2 * self.depth + 1);
                self.depth += 1;
                self.locals = self.locals.max(2 * self.depth);
                self.scopes.push((c.accu_var.clone(), accu));
                // The step and the condition see the element; the result (after the loop) sees
                // the last one bound, as the interpreter's scope does.
                self.scopes.push((c.iter_var.clone(), iter));
                let body = (|| {
                    Some((
                        self.node(&c.loop_cond)?,
                        self.node(&c.loop_step)?,
                        self.node(&c.result)?,
                    ))
                })();
                self.scopes.truncate(self.scopes.len() - 2);
                self.depth -= 1;
                let (cond, step, result) = body?;
                Node::Loop(Box::new(Loop {
                    range,
                    init,
                    iter,
                    accu,
                    cond,
                    step,
                    result,
                }))
            }
            Expr::Call(c) => self.call(c)?,
            Expr::Struct(_) | Expr::Unspecified => return None,
        })
    }

    fn nodes(&mut self, es: &[IdedExpr]) -> Option<Vec<Node>> {
        es.iter().map(|e| self.node(e)).collect()
    }

    fn local(&self, name: &str) -> Option<usize> {
        self.scopes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, slot)| *slot)
    }

    fn ident(&self, name: &str) -> Option<Node> {
        if let Some(slot) = self.local(name) {
            return Some(Node::Local(slot));
        }
        crate::ADMISSION_VARIABLES
            .iter()
            .position(|v| *v == name)
            .map(Node::Root)
    }

    fn is_variable(&self, name: &str) -> bool {
        self.local(name).is_some() || crate::ADMISSION_VARIABLES.contains(&name)
    }

    fn call(&mut self, c: &cel::common::ast::CallExpr) -> Option<Node> {
        let f = c.func_name.as_str();
        let arg = |l: &mut Lower, i: usize| l.node(&c.args[i]).map(Box::new);
        match (c.args.len(), c.target.is_some()) {
            (3, false) if f == op::CONDITIONAL => {
                return Some(Node::Cond(Box::new([
                    self.node(&c.args[0])?,
                    self.node(&c.args[1])?,
                    self.node(&c.args[2])?,
                ])));
            }
            (2, false) => {
                let bin = match f {
                    op::ADD => Some(Bin::Add),
                    op::SUBSTRACT => Some(Bin::Sub),
                    op::MULTIPLY => Some(Bin::Mul),
                    op::DIVIDE => Some(Bin::Div),
                    op::MODULO => Some(Bin::Rem),
                    op::EQUALS => Some(Bin::Eq),
                    op::NOT_EQUALS => Some(Bin::Ne),
                    op::LESS => Some(Bin::Lt),
                    op::LESS_EQUALS => Some(Bin::Le),
                    op::GREATER => Some(Bin::Gt),
                    op::GREATER_EQUALS => Some(Bin::Ge),
                    op::IN => Some(Bin::In),
                    _ => None,
                };
                if let Some(b) = bin {
                    return Some(Node::Bin(b, arg(self, 0)?, arg(self, 1)?));
                }
                match f {
                    op::INDEX => {
                        let operands = vec![self.node(&c.args[0])?, self.node(&c.args[1])?];
                        let program = Program::compile("__o0[__o1]").ok()?;
                        return Some(Node::Call(Box::new(Call {
                            native: Some(Native::Index),
                            method: false,
                            operands,
                            bridge: Bridge::new(program),
                        })));
                    }
                    op::LOGICAL_AND => return Some(Node::And(arg(self, 0)?, arg(self, 1)?)),
                    op::LOGICAL_OR => return Some(Node::Or(arg(self, 0)?, arg(self, 1)?)),
                    op::OPT_INDEX | op::OPT_SELECT => return None,
                    _ => {}
                }
            }
            (1, false) => match f {
                op::LOGICAL_NOT => return Some(Node::Not(arg(self, 0)?)),
                op::NEGATE => return Some(Node::Neg(arg(self, 0)?)),
                op::NOT_STRICTLY_FALSE => return Some(Node::NotStrictlyFalse(arg(self, 0)?)),
                _ => {}
            },
            _ => {}
        }
        if MACROS.contains(&f) || c.args.len() + 1 > OPERANDS.len() {
            return None;
        }
        // The interpreter looks `ns.f` up as a function first when the target is a name.
        let (qualified, target) = match c.target.as_deref() {
            Some(IdedExpr {
                expr: Expr::Ident(ns),
                ..
            }) if QUALIFIED.contains(&ns.as_str()) => {
                if self.is_variable(ns) {
                    // A variable named like a library: which one the interpreter calls
                    // depends on the function; leave it to it.
                    return None;
                }
                (Some(ns.as_str()), None)
            }
            Some(t) => (None, Some(t)),
            None => (None, None),
        };
        let mut operands = Vec::with_capacity(c.args.len() + 1);
        if let Some(t) = target {
            operands.push(self.node(t)?);
        }
        operands.extend(self.nodes(&c.args)?);
        let names = &OPERANDS[..operands.len()];
        let source = match (qualified, target.is_some()) {
            (Some(ns), _) => format!("{ns}.{f}({})", names.join(", ")),
            (None, true) => format!("{}.{f}({})", names[0], names[1..].join(", ")),
            (None, false) => format!("{f}({})", names.join(", ")),
        };
        let program = Program::compile(&source).ok()?;
        // The interpreter looks the function up before it works out any operand: probed now
        // with null operands, a function that is not there is that error.
        let probe = std::panic::catch_unwind(|| {
            let mut ctx = crate::env().new_inner_scope();
            for name in names {
                ctx.add_variable_from_value(*name, Value::Null);
            }
            program.execute(&ctx)
        });
        if let Ok(Err(ExecutionError::UndeclaredReference(missing))) = probe
            && missing.as_str() == f
        {
            return Some(Node::Undeclared(missing));
        }
        let method = target.is_some() && qualified.is_none();
        let native = match (f, method, c.args.len()) {
            ("size", true, 0) | ("size", false, 1) => Some(Native::Size),
            ("startsWith", true, 1) => Some(Native::StartsWith),
            ("endsWith", true, 1) => Some(Native::EndsWith),
            ("contains", true, 1) => Some(Native::Contains),
            ("compareTo", true, 1) => Some(Native::QuantityOrder(Order::CompareTo)),
            ("isGreaterThan", true, 1) => Some(Native::QuantityOrder(Order::IsGreaterThan)),
            ("isLessThan", true, 1) => Some(Native::QuantityOrder(Order::IsLessThan)),
            ("matches", true, 1) => Some(Native::Matches(match &c.args[0].expr {
                Expr::Literal(cel::common::value::CelVal::String(p)) => {
                    crate::eval::pattern(p).ok()
                }
                _ => None,
            })),
            _ => None,
        };
        let call = Call {
            native,
            method,
            operands,
            bridge: Bridge::new(program),
        };
        // A call on literals (`quantity('1Gi')`, `cidr('10.0.0.0/8')`) gives the same value on
        // every request: worked out now. One that fails is left to fail when it runs.
        if call.operands.iter().all(|o| matches!(o, Node::Lit(_))) {
            let folded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                Env {
                    roots: &[],
                    locals: &mut [],
                    bridge: None,
                }
                .call(&call)
            }));
            if let Ok(Ok(v)) = folded {
                return Some(Node::Lit(v.to_value()));
            }
        }
        Some(Node::Call(Box::new(call)))
    }
}

struct Env<'a> {
    roots: &'a [Option<Val>],
    locals: &'a mut [Val],
    /// The interpreter's scope for calls through it, made at the first.
    bridge: Option<cel::Context<'static>>,
}

fn to_bool(v: &Val) -> Result<bool, Fail> {
    match v.view() {
        View::Bool(b) => Ok(b),
        _ => Err(ExecutionError::NoSuchOverload.into()),
    }
}

impl Env<'_> {
    fn eval(&mut self, n: &Node) -> Out {
        match n {
            Node::Lit(v) => Ok(Val::Cel(v.clone())),
            Node::Root(i) => self.roots.get(*i).cloned().flatten().ok_or_else(|| {
                ExecutionError::undeclared_reference(crate::ADMISSION_VARIABLES[*i]).into()
            }),
            Node::Local(i) => Ok(self.locals[*i].clone()),
            Node::Select(base, keys) => self.path(base, keys, false),
            Node::Has(base, keys) => self.path(base, keys, true),
            Node::Not(x) => Ok(Val::bool(!to_bool(&self.eval(x)?)?)),
            Node::Neg(x) => {
                let v = self.eval(x)?;
                match v.view() {
                    View::Int(i) => i
                        .checked_neg()
                        .map(|i| Val::Cel(Value::Int(i)))
                        .ok_or(Fail::Internal),
                    View::Float(f) => Ok(Val::Cel(Value::Float(-f))),
                    _ => {
                        Err(ExecutionError::UnsupportedUnaryOperator("minus", v.to_value()).into())
                    }
                }
            }
            Node::NotStrictlyFalse(x) => Ok(Val::bool(match self.eval(x)?.view() {
                View::Bool(b) => b,
                _ => true,
            })),
            Node::And(l, r) => {
                if !to_bool(&self.eval(l)?)? {
                    return Ok(Val::FALSE);
                }
                Ok(Val::bool(to_bool(&self.eval(r)?)?))
            }
            Node::Or(l, r) => {
                if to_bool(&self.eval(l)?)? {
                    return Ok(Val::TRUE);
                }
                self.eval(r)
            }
            Node::Cond(c) => {
                let [cond, yes, no] = &**c;
                if to_bool(&self.eval(cond)?)? {
                    self.eval(yes)
                } else {
                    self.eval(no)
                }
            }
            Node::Bin(b, l, r) => {
                let l = self.eval(l)?;
                let r = self.eval(r)?;
                binary(*b, l, r)
            }
            Node::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for x in items {
                    out.push(self.eval(x)?);
                }
                Ok(Val::List(Arc::new(out)))
            }
            Node::Map(entries) => {
                let mut map = std::collections::HashMap::with_capacity(entries.len());
                for (k, v) in entries {
                    let key: Key = self
                        .eval(k)?
                        .to_value()
                        .try_into()
                        .map_err(ExecutionError::UnsupportedKeyType)?;
                    let value = self.eval(v)?.to_value();
                    map.insert(key, value);
                }
                Ok(Val::Cel(Value::Map(Map { map: Arc::new(map) })))
            }
            Node::Loop(l) => self.walk(l),
            Node::Call(c) => self.call(c),
            Node::Undeclared(name) => Err(ExecutionError::UndeclaredReference(name.clone()).into()),
        }
    }

    /// A selection or presence test from a variable read in place.
    fn path(&mut self, base: &Node, keys: &[Key], has: bool) -> Out {
        let owned;
        let start = match base {
            Node::Local(i) => &self.locals[*i],
            Node::Root(i) => match self.roots.get(*i).and_then(Option::as_ref) {
                Some(v) => v,
                None => return self.eval(base),
            },
            _ => {
                owned = self.eval(base)?;
                &owned
            }
        };
        follow(start, keys, has)
    }

    fn walk(&mut self, l: &Loop) -> Out {
        let init = self.eval(&l.init)?;
        let range = self.eval(&l.range)?;
        self.locals[l.accu] = init;
        match &range {
            // A document's list, element by element in place.
            Val::Doc(d, at) if matches!(d.kind(*at), Kind::List { .. }) => {
                for m in d.members(*at) {
                    if !self.step(l, Val::Doc(d.clone(), m))? {
                        break;
                    }
                }
            }
            // A list made by the plan (a concatenation), or the interpreter's: its elements as
            // they are, without a copy of the list.
            Val::List(items) => {
                for item in items.iter() {
                    if !self.step(l, item.clone())? {
                        break;
                    }
                }
            }
            Val::Cel(Value::List(items)) => {
                for item in items.iter() {
                    if !self.step(l, Val::Cel(item.clone()))? {
                        break;
                    }
                }
            }
            _ => {
                // The interpreter cannot walk anything else (it panics).
                for item in range.walk().ok_or(Fail::Internal)? {
                    if !self.step(l, item)? {
                        break;
                    }
                }
            }
        }
        self.eval(&l.result)
    }

    /// One element of a walk: `false` once the loop's condition stops it.
    fn step(&mut self, l: &Loop, item: Val) -> Result<bool, Fail> {
        if !to_bool(&self.eval(&l.cond)?)? {
            return Ok(false);
        }
        self.locals[l.iter] = item;
        self.locals[l.accu] = self.eval(&l.step)?;
        Ok(true)
    }

    fn call(&mut self, c: &Call) -> Out {
        // Operands in order; the common arities without a vector.
        match c.operands.as_slice() {
            [a] => match self.operand(c, 0, a)? {
                Ok(x) => self.apply(c, &[x]),
                failed => self.without(c, vec![failed]),
            },
            [a, b] => match (self.operand(c, 0, a)?, self.operand(c, 1, b)?) {
                (Ok(x), Ok(y)) => self.apply(c, &[x, y]),
                (x, y) => self.without(c, vec![x, y]),
            },
            ops => {
                let mut v = Vec::with_capacity(ops.len());
                for (i, x) in ops.iter().enumerate() {
                    v.push(self.operand(c, i, x)?);
                }
                if v.iter().all(Result::is_ok) {
                    let v: Vec<Val> = v.into_iter().flatten().collect();
                    self.apply(c, &v)
                } else {
                    self.without(c, v)
                }
            }
        }
    }

    /// An operand of `c`: the target's fault is the call's at once; an argument's only if the
    /// function reads it (a function may ignore an argument).
    fn operand(&mut self, c: &Call, i: usize, n: &Node) -> Result<Out, Fail> {
        let v = self.eval(n);
        if i == 0 && c.method {
            return v.map(Ok);
        }
        Ok(v)
    }

    /// Calls `c` through the interpreter with the arguments that failed left unbound: where the
    /// function reads one, its fault is the call's.
    fn without(&mut self, c: &Call, values: Vec<Out>) -> Out {
        let mut ctx = crate::env().new_inner_scope();
        for (name, v) in OPERANDS.iter().zip(&values) {
            if let Ok(v) = v {
                ctx.add_variable_from_value(*name, v.to_value());
            }
        }
        match c.bridge.program.execute(&ctx) {
            Ok(v) => Ok(Val::Cel(v)),
            Err(ExecutionError::UndeclaredReference(name)) => {
                let read = OPERANDS.iter().position(|o| *o == name.as_str());
                match read.and_then(|i| values.get(i)) {
                    Some(Err(fault)) => Err(fault.clone()),
                    _ => Err(ExecutionError::UndeclaredReference(name).into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn apply(&mut self, c: &Call, values: &[Val]) -> Out {
        if let Some(v) = c.native.as_ref().and_then(|n| native(n, values)) {
            return v;
        }
        if let Some(v) = c.bridge.remembered(values) {
            return Ok(Val::Cel(v));
        }
        let ctx = self
            .bridge
            .get_or_insert_with(|| crate::env().new_inner_scope());
        for (name, v) in OPERANDS.iter().zip(values) {
            ctx.add_variable_from_value(*name, v.to_value());
        }
        let answer = c.bridge.program.execute(ctx)?;
        c.bridge.remember(values, &answer);
        Ok(Val::Cel(answer))
    }
}

/// `start.k1.k2…` (or whether its last field is there, for `has`).
fn follow(start: &Val, keys: &[Key], has: bool) -> Out {
    let Some((last, init)) = keys.split_last() else {
        return Ok(start.clone());
    };
    if let Val::Doc(d, at) = start {
        // Within a document: positions only, one value made at the end.
        let field = |at: u32, k: &Key| match (d.kind(at), k) {
            (Kind::Map { .. }, Key::String(name)) => d.get(at, name),
            _ => None,
        };
        let mut at = *at;
        for k in init {
            at = field(at, k).ok_or_else(|| no_such_key(k))?;
        }
        return match (field(at, last), has) {
            (Some(_), true) => Ok(Val::TRUE),
            (None, true) => Ok(Val::FALSE),
            (Some(m), false) => Ok(Val::Doc(d.clone(), m)),
            (None, false) => Err(no_such_key(last)),
        };
    }
    let mut cur = start.clone();
    for k in init {
        cur = match cur.field(k) {
            Some(Some(v)) => v,
            _ => return Err(no_such_key(k)),
        };
    }
    match (cur.field(last), has) {
        (Some(Some(_)), true) => Ok(Val::TRUE),
        (_, true) => Ok(Val::FALSE),
        (Some(Some(v)), false) => Ok(v),
        (_, false) => Err(no_such_key(last)),
    }
}

fn no_such_key(key: &Key) -> Fail {
    match key {
        Key::String(name) => ExecutionError::NoSuchKey(name.clone()).into(),
        _ => Fail::Internal,
    }
}

/// The direct implementation, when it applies to these operands.
fn native(n: &Native, ops: &[Val]) -> Option<Out> {
    let yes = |b: bool| Some(Ok(Val::bool(b)));
    let len = |l: usize| Some(Ok(Val::Cel(Value::Int(l as i64))));
    match (n, ops) {
        (Native::Size, [v]) => match (v, v.view()) {
            (_, View::List(l) | View::Map(l)) => len(l),
            (_, View::Str(s)) => len(s.len()),
            (Val::Cel(Value::Bytes(b)), _) => len(b.len()),
            _ => None,
        },
        (Native::StartsWith, [s, p]) => match (s.view(), p.view()) {
            (View::Str(s), View::Str(p)) => yes(s.starts_with(p)),
            _ => None,
        },
        (Native::EndsWith, [s, p]) => match (s.view(), p.view()) {
            (View::Str(s), View::Str(p)) => yes(s.ends_with(p)),
            _ => None,
        },
        (Native::Contains, [s, x]) => match (s.view(), x.view()) {
            (View::Str(s), View::Str(p)) => yes(s.contains(p)),
            (View::List(_), _) => yes(s.elements()?.iter().any(|e| equal(e, x))),
            _ => None,
        },
        (Native::Matches(re), [s, p]) => match (s.view(), p.view()) {
            (View::Str(s), View::Str(p)) => {
                let found;
                let re = match re {
                    Some(re) => re,
                    // An invalid pattern: the interpreter's error.
                    None => {
                        found = crate::eval::pattern(p).ok()?;
                        &found
                    }
                };
                yes(re.is_match(s))
            }
            _ => None,
        },
        (
            Native::QuantityOrder(order),
            [Val::Cel(Value::Opaque(a)), Val::Cel(Value::Opaque(b))],
        ) => {
            use kube_cel::quantity::KubeQuantity;
            // kube-cel's own ordering of its quantities: what its functions answer.
            let ord = a
                .downcast_ref::<KubeQuantity>()?
                .cmp(b.downcast_ref::<KubeQuantity>()?);
            Some(Ok(match order {
                Order::CompareTo => Val::Cel(Value::Int(ord as i64)),
                Order::IsGreaterThan => Val::bool(ord.is_gt()),
                Order::IsLessThan => Val::bool(ord.is_lt()),
            }))
        }
        (Native::Index, [l, r]) => {
            // An optional value (from a library function) is indexed as one by the interpreter.
            if let Val::Cel(Value::Opaque(_)) = l {
                return None;
            }
            let found = match (l.view(), r.view()) {
                (View::List(_), View::Int(i)) => usize::try_from(i).ok().and_then(|i| l.nth(i)),
                (View::List(_), View::UInt(i)) => usize::try_from(i).ok().and_then(|i| l.nth(i)),
                (View::Map(_), View::Str(k)) => l.field_str(k).flatten(),
                _ => None,
            };
            // Everything else (errors included) as the interpreter does it.
            Some(found.map_or_else(|| index(l.to_value(), r.to_value()).map(Val::Cel), Ok))
        }
        _ => None,
    }
}

fn binary(b: Bin, l: Val, r: Val) -> Out {
    use std::cmp::Ordering;
    let cmp = |l: Val, r: Val, ok: fn(Ordering) -> bool| -> Out {
        let o = match (l.view(), r.view()) {
            (View::Int(x), View::Int(y)) => Some(x.cmp(&y)),
            (View::UInt(x), View::UInt(y)) => Some(x.cmp(&y)),
            (View::Str(x), View::Str(y)) => Some(x.cmp(y)),
            _ => {
                let (l, r) = (l.to_value(), r.to_value());
                match l.partial_cmp(&r) {
                    Some(o) => Some(o),
                    None => return Err(ExecutionError::ValuesNotComparable(l, r).into()),
                }
            }
        };
        Ok(Val::bool(o.is_some_and(ok)))
    };
    match b {
        Bin::Add => match (l.view(), r.view()) {
            (View::List(_), View::List(_)) => {
                let (Some(mut a), Some(b)) = (l.elements(), r.elements()) else {
                    return Err(Fail::Internal);
                };
                a.extend(b);
                Ok(Val::List(Arc::new(a)))
            }
            (View::Int(x), View::Int(y)) if x.checked_add(y).is_some() => {
                Ok(Val::Cel(Value::Int(x + y)))
            }
            (View::Str(x), View::Str(y)) => Ok(Val::Cel(Value::String(Arc::new([x, y].concat())))),
            _ => Ok(Val::Cel((l.to_value() + r.to_value())?)),
        },
        Bin::Sub => Ok(Val::Cel((l.to_value() - r.to_value())?)),
        Bin::Mul => Ok(Val::Cel((l.to_value() * r.to_value())?)),
        Bin::Div => Ok(Val::Cel((l.to_value() / r.to_value())?)),
        Bin::Rem => Ok(Val::Cel((l.to_value() % r.to_value())?)),
        Bin::Eq => Ok(Val::bool(equal(&l, &r))),
        Bin::Ne => Ok(Val::bool(!equal(&l, &r))),
        Bin::Lt => cmp(l, r, |o| o == Ordering::Less),
        Bin::Le => cmp(l, r, |o| o != Ordering::Greater),
        Bin::Gt => cmp(l, r, |o| o == Ordering::Greater),
        Bin::Ge => cmp(l, r, |o| o != Ordering::Less),
        Bin::In => match (l.view(), r.view()) {
            (View::Str(x), View::Str(y)) => Ok(Val::bool(y.contains(x))),
            (_, View::List(_)) => Ok(Val::bool(
                r.elements().is_some_and(|e| e.iter().any(|e| equal(&l, e))),
            )),
            (View::Str(k), View::Map(_)) => Ok(Val::bool(matches!(r.field_str(k), Some(Some(_))))),
            (_, View::Map(_)) => {
                let key: Result<Key, _> = l.to_value().try_into();
                Ok(Val::bool(match (key, &r) {
                    (Ok(key), _) => matches!(r.field(&key), Some(Some(_))),
                    (Err(_), _) => false,
                }))
            }
            _ => Err(ExecutionError::ValuesNotComparable(l.to_value(), r.to_value()).into()),
        },
    }
}

fn index(value: Value, idx: Value) -> Result<Value, Fail> {
    let out_of_bounds = |i: Value| Err(ExecutionError::IndexOutOfBounds(i).into());
    let missing = |k: String| Err(ExecutionError::NoSuchKey(Arc::new(k)).into());
    match (value, idx) {
        (Value::List(items), Value::Int(i)) => match usize::try_from(i) {
            Ok(u) if u < items.len() => Ok(items[u].clone()),
            _ => out_of_bounds(Value::Int(i)),
        },
        (Value::List(items), Value::UInt(i)) => match usize::try_from(i) {
            Ok(u) if u < items.len() => Ok(items[u].clone()),
            _ => out_of_bounds(Value::UInt(i)),
        },
        (Value::String(_), Value::Int(i)) => missing(i.to_string()),
        (Value::Map(m), Value::String(k)) => match m.map.get(&Key::String(k.clone())) {
            Some(v) => Ok(v.clone()),
            None => Err(ExecutionError::NoSuchKey(k).into()),
        },
        (Value::Map(m), Value::Bool(k)) => m
            .map
            .get(&Key::Bool(k))
            .cloned()
            .map_or_else(|| missing(k.to_string()), Ok),
        (Value::Map(m), Value::Int(k)) => m
            .map
            .get(&Key::Int(k))
            .cloned()
            .map_or_else(|| missing(k.to_string()), Ok),
        (Value::Map(m), Value::UInt(k)) => m
            .map
            .get(&Key::Uint(k))
            .cloned()
            .map_or_else(|| missing(k.to_string()), Ok),
        (Value::Map(_), i) => Err(ExecutionError::UnsupportedMapIndex(i).into()),
        (Value::List(_), i) => Err(ExecutionError::UnsupportedListIndex(i).into()),
        (v, i) => Err(ExecutionError::UnsupportedIndex(v, i).into()),
    }
}

#[cfg(test)]
mod tests {
    use crate::{ADMISSION_VARIABLES, Activation, Expression, Scope, agree};
    use serde_json::json;

    fn scope() -> Scope<'static> {
        let mut a = Activation::new();
        a.bind_json(
            "object",
            &json!({"kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web", "team": "a-1"}},
                "spec": {"containers": [
                    {"name": "app", "image": "registry.example/app:1.2", "ports": [{"containerPort": 8080}],
                     "resources": {"limits": {"memory": "512Mi", "cpu": "500m"}}, "env": [{"name": "A", "value": "1"}]},
                    {"name": "proxy", "image": "envoy:latest", "securityContext": {"runAsNonRoot": true}}],
                    "volumes": [{"name": "v", "hostPath": {"path": "/var/log"}}],
                    "n": 3, "u": 18446744073709551615u64, "f": 1.5, "s": "héllo", "nothing": null}}),
        );
        a.bind_json("oldObject", &serde_json::Value::Null);
        a.bind_json(
            "request",
            &json!({"operation": "CREATE", "userInfo": {"groups": ["a", "b"]}}),
        );
        Scope::new(&a)
    }

    /// Every kind of term, with values, errors and library calls: the plan and the interpreter
    /// give the same answer, the same error.
    #[test]
    fn a_plan_answers_as_the_interpreter_does() {
        let s = scope();
        let cases = [
            // Literals, arithmetic, comparisons, logic.
            "1 + 2 * 3 - 4 / 2 % 3",
            "1u + 2u",
            "9223372036854775807 + 1",
            "1 / 0",
            "1.5 * 2.0 == 3.0",
            "'a' + 'b' == 'ab'",
            "[1, 2] + [3]",
            "1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3 && 1 != 2",
            "1 < 'a'",
            "-object.spec.n",
            "-object.spec.f",
            "-'a'",
            "!true || false",
            "!1",
            "true && 1",
            "false && 1",
            "1 || true",
            "false || 'x'",
            "true ? 1 : 2",
            "1 ? 1 : 2",
            "null == null",
            "b'abc' == b'abc'",
            // Selection, presence, index.
            "object.metadata.name",
            "object.metadata.missing",
            "object.metadata.name.x",
            "has(object.metadata.labels)",
            "has(object.spec.nothing)",
            "has(object.metadata.name.x)",
            "has(object.none.x)",
            "object.metadata.labels['team']",
            "object.metadata.labels['none']",
            "object.spec.containers[1].name",
            "object.spec.containers[2]",
            "object.spec.containers[-1]",
            "object.spec.containers[1u].name",
            "object.spec.containers['a']",
            "'abc'[0]",
            "{1: 'a', true: 'b', 2u: 'c'}[1] + {1: 'a', true: 'b'}[true] + {2u: 'c'}[2u]",
            "{'a': 1}[1.5]",
            "1[0]",
            "object.spec.u",
            "params.x",
            "variables.x",
            // In.
            "'app' in object.metadata.labels",
            "1 in object.metadata.labels",
            "'b' in request.userInfo.groups",
            "'ll' in 'hello'",
            "1 in 2",
            // Collections, literals.
            "{'a': object.spec.n, 'b': [1, 'x']}",
            "{[1]: 2}",
            "[object.spec.n, object.metadata.name]",
            // Comprehensions, nested, shadowing.
            "object.spec.containers.all(c, c.image.contains(':'))",
            "object.spec.containers.exists(c, c.name == 'proxy')",
            "object.spec.containers.exists_one(c, has(c.securityContext))",
            "object.spec.containers.map(c, c.name)",
            "object.spec.containers.filter(c, has(c.ports)).map(c, c.ports.map(p, p.containerPort))",
            "object.spec.containers.map(c, c.name, c.image)",
            "object.metadata.labels.all(k, k.size() > 2)",
            "object.metadata.labels.map(k, object.metadata.labels[k])",
            "object.spec.containers.all(object, object.name != '')",
            "object.spec.containers.all(c, c.ports.all(p, p.containerPort > 0))",
            "object.spec.containers.all(c, c.securityContext.runAsNonRoot)",
            "object.spec.n.all(x, x > 0)",
            "[1, 2, 3].exists(x, x / 0 == 1)",
            "[[1], [2, 3]].all(l, l.all(x, x > 0))",
            // Functions: direct and through the interpreter.
            "size(object.spec.containers) + object.metadata.labels.size() + size(object.spec.s) + size(b'ab')",
            "size(1)",
            "object.spec.n.size()",
            "object.metadata.name.startsWith('we') && object.metadata.name.endsWith('eb')",
            "object.spec.n.startsWith('a')",
            "'abc'.contains('b') && [1, 2].contains(2) && !['a'].contains(1)",
            "{'a': 1}.contains('a')",
            "object.metadata.labels.team.matches('^[a-z]-[0-9]$')",
            "object.metadata.labels.team.matches('(')",
            "object.metadata.labels.team.matches(object.metadata.name)",
            "object.metadata.labels.team.matches('[')",
            "1.matches('a')",
            "quantity(object.spec.containers[0].resources.limits.memory).compareTo(quantity('1Gi')) < 0",
            "quantity('x')",
            // Quantities ordered directly; semantic versions and mixes by the interpreter.
            "quantity('1500m').compareTo(quantity('1.5'))",
            "quantity(object.spec.containers[0].resources.limits.memory).compareTo(quantity('1Ki'))",
            "quantity('1Ki').compareTo(quantity(object.spec.containers[0].resources.limits.memory))",
            "quantity(object.spec.containers[0].resources.limits.memory).isGreaterThan(quantity('1G'))",
            "quantity(object.spec.containers[0].resources.limits.memory).isLessThan(quantity('1G'))",
            "quantity(object.spec.containers[0].resources.limits.memory).isLessThan(quantity('1Gi'))",
            "quantity(object.spec.containers[0].resources.limits.memory).compareTo(1)",
            "quantity(object.spec.containers[0].resources.limits.memory).compareTo(semver('1.0.0'))",
            "semver('1.2.3').compareTo(semver(object.metadata.name + '.0.0'))",
            "semver('1.2.3').isGreaterThan(quantity('1'))",
            "'a'.compareTo('b')",
            "sets.contains([1, 2, 3], [1])",
            "'%s-%d'.format(['a', 1])",
            "string(object.spec.n) + string(1.5)",
            "int('12') + int(object.spec.f)",
            "url('https://example.com/a').getHost()",
            "cidr('10.0.0.0/8').containsIP(ip('10.1.2.3'))",
            "'a,b,c'.split(',').size()",
            "object.metadata.name.upperAscii()",
            "[3, 1, 2].sort()",
            "lists.range(3)",
            "math.greatest(1, 5, 3)",
            "nosuchfunction(1)",
            "object.nosuchmethod()",
            "object.none.nosuchmethod(object.none)",
            "sets.nosuch(object.none)",
        ];
        let mut planned = 0;
        for source in cases {
            let e = Expression::compile(source, ADMISSION_VARIABLES)
                .unwrap_or_else(|err| panic!("{source}: {err}"));
            let (fast, slow) = (s.eval(&e), s.eval_interpreted(&e));
            if e.planned() {
                planned += 1;
            }
            assert!(
                agree(&fast, &slow),
                "{source}: the plan gave {fast:?}, the interpreter {slow:?}"
            );
            // Here, with one fault each, the same words too.
            if let (Err(a), Err(b)) = (&fast, &slow) {
                assert_eq!(a, b, "{source}");
            }
        }
        assert_eq!(planned, cases.len(), "every case here is planned");
    }

    #[test]
    fn a_remembered_call_answers_for_its_own_operands_only() {
        let e = Expression::compile(
            "quantity(object.q).compareTo(quantity('1Gi')) + size(object.s.lowerAscii())",
            ADMISSION_VARIABLES,
        )
        .unwrap();
        assert!(e.planned());
        let run = |q: &str, s: &str| {
            let mut a = Activation::new();
            a.bind_json("object", &json!({"q": q, "s": s}));
            Scope::new(&a).eval(&e).unwrap()
        };
        for (q, s, want) in [
            ("512Mi", "ab", 1),
            ("512Mi", "ab", 1),
            ("2Gi", "ab", 3),
            ("512Mi", "abcd", 3),
            ("1Gi", "", 0),
            ("512Mi", "ab", 1),
        ] {
            assert_eq!(run(q, s), cel::Value::Int(want), "{q} {s}");
        }
    }

    #[test]
    fn what_a_plan_does_not_express_is_left_to_the_interpreter() {
        for source in [
            "object.?metadata.orValue(1)",
            "[?optional.none()]",
            "object.spec.containers.all(i, c, c.name != '')",
            "type(1) == int",
            "sets.all(x, true)",
        ] {
            if let Ok(e) = Expression::compile(source, ADMISSION_VARIABLES) {
                assert!(!e.planned(), "{source}");
            }
        }
        let s = scope();
        let e = Expression::compile("['ab'].map(sets, sets.size())", ADMISSION_VARIABLES)
            .unwrap_or_else(|err| panic!("{err}"));
        assert!(!e.planned(), "a variable named like a library");
        assert_eq!(format!("{:?}", s.eval(&e)), "Ok(List([Int(2)]))");
    }
}
