package capture

import (
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

const benchFilter = `method != "OPTIONS" && !(status >= 100 && status < 200) && !(user_agent contains "scanner")`

// BenchmarkFilter is the compiled evaluator on the example filter.
func BenchmarkFilter(b *testing.B) {
	msgs := testMessages()
	f, err := CompileFilter(benchFilter)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		x := msgs[i%len(msgs)]
		f.Match(&x.m, &x.s, nil)
		i++
	}
}

// BenchmarkFilterExprVM is the baseline: expr's VM on a struct env filled from
// the decoded message, as a Go user would write it.
func BenchmarkFilterExprVM(b *testing.B) {
	msgs := testMessages()
	prog, err := expr.Compile(benchFilter, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		b.Fatal(err)
	}
	var machine vm.VM
	var env Env
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		x := msgs[i%len(msgs)]
		env.Method = string(x.s.Method)
		env.Status = int(x.s.Status)
		env.UserAgent = string(x.s.UserAgent)
		if _, err := machine.Run(prog, &env); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
