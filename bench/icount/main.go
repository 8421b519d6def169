package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/sipcap/appliance/decode"
)

func main() {
	n := flag.Int("n", 1000, "decodes")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: icount [-n N] FILE")
		os.Exit(2)
	}
	msg, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var s decode.SIP
	bad := 0
	for i := 0; i < *n; i++ {
		if s.DecodeFrom(msg) != nil {
			bad++
		}
	}
	fmt.Println(len(s.CallID), bad)
}
