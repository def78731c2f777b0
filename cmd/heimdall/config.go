package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/heimdallhub/heimdall/internal/config"
)

func runConfig(stdout io.Writer) error {
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "VARIABLE\tDEFAULT\tMEANING")
	for _, v := range append(append([]config.Var{}, config.Vars...), config.ClientVars...) {
		fmt.Fprintf(w, "%s\t%s\t%s\n", v.Name, v.Default, v.Help)
	}
	return w.Flush()
}
