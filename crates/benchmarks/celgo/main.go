// celgo: the Kubernetes API server's own CEL evaluator (cel-go with k8s.io/apiserver's
// environment: the libraries and options ValidatingAdmissionPolicy uses) on the rules rampart's
// admission bench evaluates, for a side-by-side figure. Reads what `admission-bench --export DIR`
// wrote (rules.json, review.json) and times, per review: reading the AdmissionReview, then every
// rule's variables and conditions, as rampart's bench does.
//
//	go run . DIR [ITERATIONS]
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/google/cel-go/cel"
	"k8s.io/apiserver/pkg/cel/environment"
)

type named struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

type rule struct {
	Name       string  `json:"name"`
	Variables  []named `json:"variables"`
	Conditions []struct {
		Cel struct {
			Expression string `json:"expression"`
		} `json:"cel"`
	} `json:"conditions"`
}

type compiled struct {
	name       string
	variables  []string
	varProgs   []cel.Program
	conditions []cel.Program
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "celgo: %s: %v\n", what, err)
		os.Exit(2)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: celgo DIR [ITERATIONS]")
		os.Exit(2)
	}
	dir := os.Args[1]
	n := 20000
	if len(os.Args) > 2 {
		v, err := strconv.Atoi(os.Args[2])
		must(err, "iterations")
		n = v
	}
	var rules []rule
	raw, err := os.ReadFile(dir + "/rules.json")
	must(err, "rules.json")
	must(json.Unmarshal(raw, &rules), "rules.json")
	body, err := os.ReadFile(dir + "/review.json")
	must(err, "review.json")

	base := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).NewExpressionsEnv()
	env, err := base.Extend(
		cel.Variable("object", cel.DynType),
		cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)),
	)
	must(err, "environment")
	compile := func(src string) cel.Program {
		ast, iss := env.Compile(src)
		if iss != nil && iss.Err() != nil {
			must(iss.Err(), src)
		}
		prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(1000000))
		must(err, src)
		return prg
	}
	var all []compiled
	for _, r := range rules {
		c := compiled{name: r.Name}
		for _, v := range r.Variables {
			c.variables = append(c.variables, v.Name)
			c.varProgs = append(c.varProgs, compile(v.Expression))
		}
		for _, k := range r.Conditions {
			c.conditions = append(c.conditions, compile(k.Cel.Expression))
		}
		all = append(all, c)
	}

	// One review: the request read, every rule judged. Returns the violated rules.
	review := func() int {
		var ar map[string]any
		must(json.Unmarshal(body, &ar), "review.json")
		object := ar["request"].(map[string]any)["object"]
		violated := 0
		for _, c := range all {
			vars := map[string]any{}
			act := map[string]any{"object": object, "variables": vars}
			for i, p := range c.varProgs {
				v, _, err := p.Eval(act)
				if err == nil {
					vars[c.variables[i]] = v
				}
			}
			for _, p := range c.conditions {
				v, _, err := p.Eval(act)
				if err != nil || v.Value() != true {
					violated++
				}
			}
		}
		return violated
	}
	if v := review(); v != 0 {
		fmt.Fprintf(os.Stderr, "celgo: the review violates %d rule(s); the bench's pod admits\n", v)
		os.Exit(1)
	}
	for i := 0; i < n/10; i++ {
		review()
	}
	times := make([]time.Duration, n)
	for i := range times {
		t := time.Now()
		review()
		times[i] = time.Since(t)
	}
	sort.Slice(times, func(a, b int) bool { return times[a] < times[b] })
	at := func(q float64) time.Duration { return times[int(float64(len(times)-1)*q+0.5)] }
	fmt.Printf("celgo %d %d\n", at(0.5).Nanoseconds(), at(0.99).Nanoseconds())
}
