//! Evaluating compiled expressions under the cost budget.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};

use std::cell::RefCell;

use cel::{Context, Value};

use crate::val::{Val, View};

use crate::{Activation, COST_LIMIT, Expression, Sizes};

/// Why an evaluation gave no answer: the policy's failure mode decides what happens then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The worst case over these inputs exceeds [`COST_LIMIT`]: not run.
    #[error(
        "expression cost budget exceeded: up to {bound} steps over inputs whose largest \
         collection holds {largest} items, more than the {limit} allowed"
    )]
    Budget {
        /// The worst case.
        bound: u64,
        /// The largest collection in the inputs.
        largest: u64,
        /// The limit.
        limit: u64,
    },
    /// Evaluation failed (no such key, no matching overload, a bad argument, …).
    #[error("{0}")]
    Execution(String),
    /// The expression gave a value of another type than asked for.
    #[error("the expression gave {got}, not a {want}")]
    WrongType {
        /// What was asked for.
        want: &'static str,
        /// What came.
        got: String,
    },
    /// The evaluator failed inside (a defect of the CEL library, kept from the request path).
    #[error("the CEL evaluator failed on this expression")]
    Internal,
}

/// Every function an expression may call: CEL's standard ones and Kubernetes' libraries,
/// registered once for the process.
pub fn env() -> &'static Context<'static> {
    static ROOT: OnceLock<Context<'static>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let mut ctx = Context::default();
        kube_cel::register_all(&mut ctx);
        // The library compiles a pattern on every call; a rule's pattern is the same on every
        // request.
        ctx.add_function("matches", matches);
        ctx
    })
}

/// The most patterns kept compiled; past it the cache starts over.
const PATTERNS_KEPT: usize = 512;
/// The most memory one compiled pattern may take (the regex crate's default is 10 MiB).
const PATTERN_BYTES: usize = 1 << 20;

/// `string.matches(pattern)`, RE2 syntax as CEL's, patterns compiled once.
fn matches(
    ftx: &cel::FunctionContext,
    cel::extractors::This(this): cel::extractors::This<std::sync::Arc<String>>,
    pattern: std::sync::Arc<String>,
) -> Result<bool, cel::ExecutionError> {
    let re = self::pattern(&pattern).map_err(|e| ftx.error(e))?;
    Ok(re.is_match(&this))
}

/// A pattern, compiled once for the process (or why it is not one).
pub(crate) fn pattern(pattern: &str) -> Result<regex::Regex, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, regex::Regex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    let known = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(pattern)
        .cloned();
    if let Some(re) = known {
        return Ok(re);
    }
    let re = regex::RegexBuilder::new(pattern)
        .size_limit(PATTERN_BYTES)
        .build()
        .map_err(|e| format!("{pattern:?} is not a valid regular expression: {e}"))?;
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if c.len() >= PATTERNS_KEPT {
        c.clear();
    }
    c.insert(pattern.to_string(), re.clone());
    Ok(re)
}

/// A value worked out once per request, by its expression's source.
type Shared = (Arc<str>, Val);

/// The memo's keys are hashes of sources already ([`Expression::source_hash`]): used as they
/// are.
#[derive(Default)]
struct Hashed(u64);

impl std::hash::Hasher for Hashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is called (the key is a `u64`); anything else still hashes.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// One evaluation's variables over the shared functions.
pub struct Scope<'a> {
    /// The interpreter's variables, made when an expression without a plan first needs them.
    ctx: RefCell<Option<Context<'a>>>,
    /// The budget's sizes: the activation's and each input bound since ([`Scope::prepared`]).
    sizes: Sizes,
    /// The activation's sizes.
    base: Sizes,
    /// Inputs bound after the activation (a policy's params, its inventory), by name: rebinding
    /// one replaces its sizes rather than adding them again.
    prepared: Vec<(String, Sizes)>,
    /// Values of expressions that read only the request (by source): a variable or condition
    /// several rules share is worked out once per request.
    memo: RefCell<HashMap<u64, Shared, std::hash::BuildHasherDefault<Hashed>>>,
    /// Every bound variable.
    vars: Vec<(String, Val)>,
    /// The bound variables plans read, by [`crate::ADMISSION_VARIABLES`] index.
    roots: Vec<Option<Val>>,
    /// The names `variables` were given, each made once per request.
    names: Vec<Arc<String>>,
}

/// Where `variables` is among [`crate::ADMISSION_VARIABLES`] (found when compiling).
const VARIABLES: usize = {
    const fn same(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
    let mut i = 0;
    while !same(crate::ADMISSION_VARIABLES[i], "variables") {
        i += 1;
    }
    i
};

impl<'a> Scope<'a> {
    /// The variables of `activation`, over [`env`].
    pub fn new(activation: &Activation) -> Scope<'static> {
        let mut s = Scope {
            ctx: RefCell::new(None),
            sizes: activation.sizes,
            base: activation.sizes,
            prepared: Vec::new(),
            memo: Default::default(),
            vars: Vec::new(),
            roots: vec![None; crate::ADMISSION_VARIABLES.len()],
            names: Vec::new(),
        };
        for (name, v) in &activation.vars {
            s.set(name, v.clone());
        }
        s
    }

    /// Binds (or rebinds) a variable. Derived from the bound inputs, a value holds no more
    /// elements than those did, so the budget's sizes stand.
    pub fn bind(&mut self, name: &str, value: Value) {
        self.bind_val(name, Val::Cel(value));
    }

    fn bind_val(&mut self, name: &str, value: Val) {
        if crate::REQUEST_VARIABLES.contains(&name) {
            // What was worked out from the old value no longer holds.
            self.memo.get_mut().clear();
        }
        self.set(name, value);
    }

    fn set(&mut self, name: &str, value: Val) {
        if let Some(i) = crate::ADMISSION_VARIABLES.iter().position(|v| *v == name) {
            self.roots[i] = Some(value.clone());
        }
        if let Some(ctx) = self.ctx.get_mut() {
            ctx.add_variable_from_value(name, value.to_value());
        }
        match self.vars.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name.to_string(), value)),
        }
    }

    /// Starts a rule's `variables` over: none bound.
    pub fn clear_variables(&mut self) {
        let mut named = self.take_variables();
        match Arc::get_mut(&mut named) {
            // Held here only: emptied and reused (every rule of a request starts over).
            Some(list) => list.clear(),
            None => named = Arc::default(),
        }
        self.set("variables", Val::Named(named));
    }

    /// Works out `e` and binds it as `variables.<name>`, after the ones before it; one that
    /// fails is left unbound (an expression that reads it fails in its turn).
    pub fn define(&mut self, name: &str, e: &Expression) -> Result<(), EvalError> {
        let v = self.eval_val(e)?;
        // Taken from where it is bound, so that, held once, it grows in place.
        let mut named = self.take_variables();
        let list = Arc::make_mut(&mut named);
        list.retain(|(n, _)| n.as_str() != name);
        let name = match self.names.iter().find(|n| n.as_str() == name) {
            Some(n) => n.clone(),
            None => {
                let n = Arc::new(name.to_string());
                self.names.push(n.clone());
                n
            }
        };
        list.push((name, v));
        self.set("variables", Val::Named(named));
        Ok(())
    }

    /// The rule's `variables`, unbound (to be bound again).
    fn take_variables(&mut self) -> Arc<Vec<(Arc<String>, Val)>> {
        let unbound = Val::Cel(Value::Null);
        let root = self.roots.get_mut(VARIABLES).and_then(Option::take);
        if let Some(slot) = self.vars.iter_mut().find(|(n, _)| n == "variables") {
            slot.1 = unbound;
        }
        match root {
            Some(Val::Named(n)) => n,
            _ => Arc::default(),
        }
    }

    /// Binds (or rebinds) an input read before (a policy's params, its inventory), its sizes
    /// counted into the budget's.
    pub fn bind_prepared(&mut self, name: &str, p: &crate::Prepared) {
        match self.prepared.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = p.sizes(),
            None => self.prepared.push((name.to_string(), p.sizes())),
        }
        self.sizes = self.base;
        for (_, s) in &self.prepared {
            self.sizes.absorb(*s);
        }
        self.bind_val(name, p.val().clone());
    }

    /// Evaluates `e`, after checking its worst case against the budget.
    pub fn eval(&self, e: &Expression) -> Result<Value, EvalError> {
        self.eval_val(e).map(|v| v.to_value())
    }

    fn eval_val(&self, e: &Expression) -> Result<Val, EvalError> {
        if !e.request_only() {
            return self.run(e);
        }
        let (key, source) = (e.source_hash(), e.source_arc());
        let known = self
            .memo
            .borrow()
            .get(&key)
            .filter(|(s, _)| Arc::ptr_eq(s, source) || s == source)
            .map(|(_, v)| v.clone());
        if let Some(v) = known {
            return Ok(v);
        }
        let v = self.run(e)?;
        // Another source with the same hash keeps its place (this one is worked out each time).
        self.memo
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| (source.clone(), v.clone()));
        Ok(v)
    }

    /// Evaluates `e`, after checking its worst case against the budget.
    fn run(&self, e: &Expression) -> Result<Val, EvalError> {
        self.budget(e)?;
        let Some(plan) = e.plan() else {
            return self.interpreted(e).map(Val::Cel);
        };
        let out = self.planned(plan);
        #[cfg(feature = "cross-check")]
        self.cross_check(e, &out);
        out
    }

    /// Panics where the plan and the interpreter disagree (the `cross-check` feature, which
    /// the tests of the crates that evaluate policies turn on). Where the interpreter panics
    /// the plan's answer stands.
    #[cfg(feature = "cross-check")]
    fn cross_check(&self, e: &Expression, planned: &Result<Val, EvalError>) {
        let planned = planned.as_ref().map(Val::to_value).map_err(Clone::clone);
        let interpreted = self.interpreted(e);
        assert!(
            agree(&planned, &interpreted),
            "the plan of {:?} gave {planned:?}, the interpreter {interpreted:?}",
            e.source()
        );
    }

    /// Evaluates `e` with the `cel` crate's interpreter (what a plan must agree with), after
    /// checking its worst case against the budget; not shared with other rules.
    pub fn eval_interpreted(&self, e: &Expression) -> Result<Value, EvalError> {
        self.budget(e)?;
        self.interpreted(e)
    }

    /// Refuses `e` when its worst case over these inputs exceeds the budget.
    fn budget(&self, e: &Expression) -> Result<(), EvalError> {
        // Measuring the walked collections only lowers the worst case: needed only when the
        // worst case is over.
        if e.cost_bound(self.sizes) <= COST_LIMIT {
            return Ok(());
        }
        let bound = e.cost_bound_measured(self.sizes, &|path| self.measure(path));
        if bound > COST_LIMIT {
            return Err(EvalError::Budget {
                bound,
                largest: self.sizes.largest,
                limit: COST_LIMIT,
            });
        }
        Ok(())
    }

    fn interpreted(&self, e: &Expression) -> Result<Value, EvalError> {
        if self.ctx.borrow().is_none() {
            let mut ctx = env().new_inner_scope();
            for (name, v) in &self.vars {
                ctx.add_variable_from_value(name.as_str(), v.to_value());
            }
            *self.ctx.borrow_mut() = Some(ctx);
        }
        let ctx = self.ctx.borrow();
        let Some(ctx) = ctx.as_ref() else {
            return Err(EvalError::Internal);
        };
        // The library has unfinished corners that panic: one must never take a request down.
        match catch_unwind(AssertUnwindSafe(|| e.program().execute(ctx))) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(err)) => Err(EvalError::Execution(err.to_string())),
            Err(_) => Err(EvalError::Internal),
        }
    }

    fn planned(&self, plan: &crate::plan::Plan) -> Result<Val, EvalError> {
        // The library functions a plan calls have the same corners.
        match catch_unwind(AssertUnwindSafe(|| plan.eval(&self.roots))) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(crate::plan::Fail::Exec(err))) => Err(EvalError::Execution(err.to_string())),
            Ok(Err(crate::plan::Fail::Internal)) | Err(_) => Err(EvalError::Internal),
        }
    }

    /// The length of the collection at `path` from a bound value; a path that leads nowhere
    /// holds nothing to walk (evaluating it fails first).
    fn measure(&self, path: &[Arc<String>]) -> Option<u64> {
        let (root, rest) = path.split_first()?;
        let mut v = self
            .vars
            .iter()
            .find(|(n, _)| n == root.as_str())
            .map(|(_, v)| v.clone())?;
        for key in rest {
            match v.field(&cel::objects::Key::String(key.clone())) {
                Some(Some(x)) => v = x,
                _ => return Some(0),
            }
        }
        Some(match v.view() {
            View::List(l) | View::Map(l) => l as u64,
            _ => 0,
        })
    }

    /// Evaluates `e` to a boolean.
    pub fn eval_bool(&self, e: &Expression) -> Result<bool, EvalError> {
        let v = self.eval_val(e)?;
        match v.view() {
            View::Bool(b) => Ok(b),
            _ => Err(EvalError::WrongType {
                want: "bool",
                got: type_name(&v.to_value()).into(),
            }),
        }
    }

    /// Evaluates `e` to a string.
    pub fn eval_string(&self, e: &Expression) -> Result<String, EvalError> {
        let v = self.eval_val(e)?;
        match v.view() {
            View::Str(s) => Ok(s.to_string()),
            _ => Err(EvalError::WrongType {
                want: "string",
                got: type_name(&v.to_value()).into(),
            }),
        }
    }
}

/// Whether a plan's answer is the interpreter's: the same value (NaN is NaN; a list from a
/// map's walk in any order), or an error where the interpreter errs — a plan works out a call's
/// operands before the call, so where both an operand and the call are at fault it may name the
/// other fault; where the interpreter panics, any answer.
#[doc(hidden)]
pub fn agree(planned: &Result<Value, EvalError>, interpreted: &Result<Value, EvalError>) -> bool {
    match (planned, interpreted) {
        (_, Err(EvalError::Internal)) => true,
        (Ok(a), Ok(b)) => same(a, b),
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

/// The same value; a list made by walking a map may hold its elements in another order (CEL
/// leaves a map's order open, and the interpreter's differs from map to map).
fn same(a: &Value, b: &Value) -> bool {
    if a == b || format!("{a:?}") == format!("{b:?}") {
        return true;
    }
    let (Value::List(a), Value::List(b)) = (a, b) else {
        return false;
    };
    let mut left: Vec<&Value> = b.iter().collect();
    a.len() == b.len()
        && a.iter()
            .all(|x| match left.iter().position(|y| same(x, y)) {
                Some(i) => {
                    left.swap_remove(i);
                    true
                }
                None => false,
            })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        Value::Function(..) => "a function",
        Value::Int(_) => "an int",
        Value::UInt(_) => "a uint",
        Value::Float(_) => "a double",
        Value::String(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::Bool(_) => "a bool",
        Value::Null => "null",
        _ => "a value of another type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VARS: &[&str] = &["object", "oldObject", "params", "variables"];

    fn scope(object: serde_json::Value) -> Scope<'static> {
        let mut a = Activation::new();
        a.bind_json("object", &object);
        a.bind_json("oldObject", &serde_json::Value::Null);
        Scope::new(&a)
    }

    fn compile(s: &str) -> Expression {
        Expression::compile(s, VARS).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn kubernetes_libraries_are_there() {
        let s = scope(json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"memory": "1Gi"}}, "ports": [{"containerPort": 8080}]},
        ]}}));
        for (e, want) in [
            ("quantity('1Gi').isGreaterThan(quantity('500Mi'))", true),
            (
                "object.spec.containers.all(c, quantity(c.resources.limits.memory).compareTo(quantity('2Gi')) < 0)",
                true,
            ),
            (
                "isURL('https://example.com/a') && url('https://example.com/a').getHost() == 'example.com'",
                true,
            ),
            ("cidr('10.0.0.0/8').containsIP(ip('10.1.2.3'))", true),
            ("'abc'.matches('^a') && 'a-b'.split('-').size() == 2", true),
            (
                "object.spec.containers.exists(c, c.ports.exists(p, p.containerPort == 8080))",
                true,
            ),
            ("has(object.spec.hostNetwork)", false),
            ("oldObject == null", true),
            ("sets.contains([1, 2, 3], [1])", true),
            ("'%s-%d'.format(['a', 1]) == 'a-1'", true),
        ] {
            assert_eq!(s.eval_bool(&compile(e)), Ok(want), "{e}");
        }
    }

    #[test]
    fn errors_are_answers_not_panics() {
        let s = scope(json!({"spec": {}}));
        assert!(matches!(
            s.eval_bool(&compile("object.spec.missing == 1")),
            Err(EvalError::Execution(_))
        ));
        assert!(matches!(
            s.eval_bool(&compile("object.spec")),
            Err(EvalError::WrongType { want: "bool", .. })
        ));
        // `params` is declared but unbound here.
        assert!(s.eval_bool(&compile("params.x == 1")).is_err());
        // The library panics on a comprehension over a null (found by the `cel` fuzz target):
        // an answer all the same.
        let null = scope(json!({"l": [null]}));
        assert_eq!(
            null.eval_bool(&compile("object.l[0].all(x, x > 0)")),
            Err(EvalError::Internal)
        );
    }

    #[test]
    fn the_budget_is_checked_before_running() {
        let big: Vec<u32> = (0..5_000).collect();
        let s = scope(json!({ "l": big }));
        let nested = compile("object.l.all(a, object.l.all(b, a + b >= 0))");
        let err = s.eval_bool(&nested).unwrap_err();
        assert!(
            matches!(err, EvalError::Budget { largest: 5_000, .. }),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with("expression cost budget exceeded")
        );
        // One level over the same list fits.
        assert_eq!(s.eval_bool(&compile("object.l.all(a, a >= 0)")), Ok(true));
    }

    #[test]
    fn walks_over_bound_paths_cost_their_actual_length() {
        // A huge list beside a small one: walking the small one twice is cheap, whatever the
        // worst case of an input collection is.
        let big: Vec<u32> = (0..5_000).collect();
        let mut s = scope(json!({ "big": big, "small": [1, 2, 3] }));
        let small = compile("object.small.all(a, object.small.all(b, a + b > 0))");
        assert!(
            small.cost_bound(s.sizes) > COST_LIMIT,
            "the worst case alone refuses it"
        );
        assert_eq!(s.eval_bool(&small), Ok(true));
        // A variable: measured as bound; one that concatenates the big list is refused.
        let over = compile("variables.x.all(a, variables.x.all(b, a + b > 0))");
        s.bind("variables", vars(&s, "object.small + object.small"));
        assert_eq!(s.eval_bool(&over), Ok(true));
        s.bind("variables", vars(&s, "object.big + object.small"));
        assert!(matches!(s.eval_bool(&over), Err(EvalError::Budget { .. })));
        // A missing path walks nothing (and fails on its own).
        assert!(matches!(
            s.eval_bool(&compile("object.none.all(a, object.big.all(b, a == b))")),
            Err(EvalError::Execution(_))
        ));
    }

    /// `variables` holding `x`, the value of `e`.
    fn vars(s: &Scope<'_>, e: &str) -> Value {
        let x = s.eval(&compile(e)).unwrap();
        let map: std::collections::HashMap<cel::objects::Key, Value> =
            std::collections::HashMap::from([(cel::objects::Key::String(Arc::new("x".into())), x)]);
        Value::Map(cel::objects::Map { map: Arc::new(map) })
    }
}
