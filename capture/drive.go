package capture

import (
	"context"
	"errors"
	"io"

	"github.com/sipcap/appliance/decode"
	"github.com/sipcap/appliance/ring"
)

// Block decodes every frame of one leased ring block. The block's bytes are
// not kept: the Output copies what it stores before Block returns, so the
// caller may release the block right after.
func (w *Worker) Block(b *ring.Block) {
	w.BeginBlock()
	link := decode.LinkType(b.LinkType())
	for b.Next() {
		tci, _ := b.VLAN()
		w.Frame(b.Data(), link, b.TS(), tci)
	}
}

// ReadFile feeds every frame of a capture file through w, calling onFrame
// (when not nil) with the frame's number, counted from 1, before the frame is
// decoded. It stops after the current block when ctx ends. It returns the
// number of frames read and the file's read error, if any, after the frames
// before the damage were decoded.
func ReadFile(ctx context.Context, f *ring.File, w *Worker, onFrame func(n int)) (int, error) {
	n := 0
	link := decode.LinkType(f.LinkType())
	for {
		if ctx.Err() != nil {
			w.Flush()
			return n, nil
		}
		err := f.Next(func(b *ring.Block) error {
			w.BeginBlock()
			for b.Next() {
				n++
				if onFrame != nil {
					onFrame(n)
				}
				tci, _ := b.VLAN()
				w.Frame(b.Data(), link, b.TS(), tci)
			}
			return nil
		})
		if errors.Is(err, io.EOF) {
			w.Flush()
			return n, nil
		}
		if err != nil {
			w.Flush()
			return n, err
		}
	}
}
