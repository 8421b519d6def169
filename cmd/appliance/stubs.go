package main

import (
	"context"
	"errors"
	"io"
)

func runCapture(ctx context.Context, args []string, stdout, stderr io.Writer, replay bool) error {
	return errors.New("capture: not wired yet")
}

func runSchema(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("schema: not wired yet")
}

func runTune(args []string, stdout, stderr io.Writer) error {
	return errors.New("tune: not wired yet")
}
