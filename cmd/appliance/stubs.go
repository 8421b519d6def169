package main

import (
	"errors"
	"io"
)

func runTune(args []string, stdout, stderr io.Writer) error {
	return errors.New("tune: not wired yet")
}
