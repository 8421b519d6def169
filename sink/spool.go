package sink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ErrSpoolFull is returned when a body does not fit under the spool's byte cap.
var ErrSpoolFull = errors.New("sink: spool full")

// errSpoolCorrupt marks a spool file that cannot be read back.
var errSpoolCorrupt = errors.New("sink: corrupt spool file")

const (
	spoolMagic = "SIPSPOOL1\n"
	spoolExt   = ".spool"
	// maxSpoolBody bounds what a spool file may expand to when read back.
	maxSpoolBody = 1 << 30
)

// body is one encoded insert: compressed Native blocks and what is needed
// to send it again, byte for byte.
type body struct {
	query string // INSERT … FORMAT Native
	token string // insert_deduplication_token, derived from data
	rows  int
	data  []byte
	// ambiguous is set after a failure that may have committed the body;
	// on servers without deduplication tokens it is resolved from
	// system.query_log before the body is sent again.
	ambiguous bool
	// file is the spool file the body was read from, "" for memory.
	file string
	// first is the wall clock (Unix ns) of the oldest row in the body, 0
	// when unknown (read back from the spool).
	first int64
}

// spool keeps bodies on disk while ClickHouse is unavailable: one file per
// body, named by creation time so that a sorted listing is oldest first,
// written to a temporary name, fsynced, renamed and the folder fsynced.
// The file holds a small header and the body compressed with zstd.
type spool struct {
	dir string
	cap int64

	mu      sync.Mutex
	files   []spoolFile // oldest first
	bytes   int64
	seq     uint64
	enc     *zstd.Encoder
	dec     *zstd.Decoder
	scratch []byte
}

type spoolFile struct {
	name    string
	size    int64
	claimed bool
}

// openSpool opens (creating) dir, removes half-written temporary files and
// lists the bodies left by an earlier run.
func openSpool(dir string, capBytes int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxSpoolBody))
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &spool{dir: dir, cap: capBytes, enc: enc, dec: dec}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, "tmp-") {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if !e.Type().IsRegular() || !strings.HasSuffix(name, spoolExt) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		s.files = append(s.files, spoolFile{name: name, size: info.Size()})
		s.bytes += info.Size()
	}
	sort.Slice(s.files, func(i, j int) bool { return s.files[i].name < s.files[j].name })
	return s, nil
}

// encodeSpool renders b as a spool file's bytes.
func encodeSpool(dst []byte, enc *zstd.Encoder, b *body) []byte {
	dst = append(dst, spoolMagic...)
	dst = binary.AppendUvarint(dst, uint64(len(b.query)))
	dst = append(dst, b.query...)
	dst = binary.AppendUvarint(dst, uint64(len(b.token)))
	dst = append(dst, b.token...)
	dst = binary.AppendUvarint(dst, uint64(b.rows))
	var flags uint64
	if b.ambiguous {
		flags |= 1
	}
	dst = binary.AppendUvarint(dst, flags)
	return enc.EncodeAll(b.data, dst)
}

// decodeSpool parses a spool file's bytes.
func decodeSpool(dec *zstd.Decoder, p []byte) (*body, error) {
	if !bytes.HasPrefix(p, []byte(spoolMagic)) {
		return nil, errSpoolCorrupt
	}
	p = p[len(spoolMagic):]
	str := func() (string, bool) {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return "", false
		}
		s := string(p[k : k+int(n)])
		p = p[k+int(n):]
		return s, true
	}
	b := &body{}
	var ok bool
	if b.query, ok = str(); !ok {
		return nil, errSpoolCorrupt
	}
	if b.token, ok = str(); !ok {
		return nil, errSpoolCorrupt
	}
	rows, k := binary.Uvarint(p)
	if k <= 0 || rows > 1<<40 {
		return nil, errSpoolCorrupt
	}
	b.rows = int(rows)
	p = p[k:]
	flags, k := binary.Uvarint(p)
	if k <= 0 {
		return nil, errSpoolCorrupt
	}
	b.ambiguous = flags&1 != 0
	data, err := dec.DecodeAll(p[k:], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errSpoolCorrupt, err)
	}
	b.data = data
	return b, nil
}

// writeFileSync writes p to dir/name atomically: temporary file, fsync,
// rename, fsync of the folder.
func writeFileSync(dir, name string, p []byte) error {
	f, err := os.CreateTemp(dir, "tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(p)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// put stores b; ErrSpoolFull when it does not fit under the cap.
func (s *spool) put(b *body) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scratch = encodeSpool(s.scratch[:0], s.enc, b)
	size := int64(len(s.scratch))
	if s.bytes+size > s.cap {
		return ErrSpoolFull
	}
	s.seq++
	name := fmt.Sprintf("%020d-%08d%s", time.Now().UnixNano(), s.seq%100_000_000, spoolExt)
	if err := writeFileSync(s.dir, name, s.scratch); err != nil {
		return fmt.Errorf("write spool file: %w", err)
	}
	if cap(s.scratch) > 64<<20 {
		s.scratch = nil // do not pin a huge buffer
	}
	s.files = append(s.files, spoolFile{name: name, size: size})
	s.bytes += size
	return nil
}

// claim returns the oldest file no sender holds, marking it held.
func (s *spool) claim() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.files {
		if !s.files[i].claimed {
			s.files[i].claimed = true
			return s.files[i].name, true
		}
	}
	return "", false
}

// load reads a claimed file.
func (s *spool) load(name string) (*body, error) {
	p, err := os.ReadFile(filepath.Join(s.dir, name))
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := decodeSpool(s.dec, p)
	if err != nil {
		return nil, err
	}
	b.file = name
	return b, nil
}

// release makes a claimed file available again (after a failed send).
func (s *spool) release(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.files {
		if s.files[i].name == name {
			s.files[i].claimed = false
			return
		}
	}
}

// remove deletes a file that was sent (or moved away).
func (s *spool) remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.files {
		if s.files[i].name == name {
			s.bytes -= s.files[i].size
			s.files = append(s.files[:i], s.files[i+1:]...)
			break
		}
	}
	os.Remove(filepath.Join(s.dir, name))
}

// quarantine moves a file that cannot be read into dead/ and forgets it.
func (s *spool) quarantine(name, deadDir string) {
	if deadDir != "" && os.MkdirAll(deadDir, 0o750) == nil {
		if os.Rename(filepath.Join(s.dir, name), filepath.Join(deadDir, name)) == nil {
			s.mu.Lock()
			for i := range s.files {
				if s.files[i].name == name {
					s.bytes -= s.files[i].size
					s.files = append(s.files[:i], s.files[i+1:]...)
					break
				}
			}
			s.mu.Unlock()
			return
		}
	}
	s.remove(name)
}

// usage returns the files and bytes on disk.
func (s *spool) usage() (files int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files), s.bytes
}

// writeDeadLetter stores b and the server's message in dir as
// NAME.spool (the spool format, replayable by hand) and NAME.err.
func writeDeadLetter(dir string, enc *zstd.Encoder, b *body, msg string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	name := fmt.Sprintf("%020d-%s", time.Now().UnixNano(), shortToken(b.token))
	if err := writeFileSync(dir, name+spoolExt, encodeSpool(nil, enc, b)); err != nil {
		return err
	}
	return writeFileSync(dir, name+".err", []byte(b.query+"\n"+msg+"\n"))
}

func shortToken(t string) string {
	if len(t) > 16 {
		return t[:16]
	}
	if t == "" {
		return "body"
	}
	return t
}
