package sink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ClickHouse/ch-go/compress"
	"github.com/ClickHouse/ch-go/proto"
)

// base is the ClickHouse type a column is encoded to, after LowCardinality
// and Nullable wrappers are taken off.
type base uint8

const (
	tString base = iota
	tFixed
	tU8
	tU16
	tU32
	tU64
	tI8
	tI16
	tI32
	tI64
	tDate
	tDateTime
	tDateTime64
	tIPv4
	tIPv6
)

// colType is a parsed ClickHouse column type the sink can write.
type colType struct {
	base     base
	lowCard  bool
	nullable bool
	n        int // FixedString length, DateTime64 precision
}

// parseType parses the types the sink can encode. It returns ok=false for
// anything else.
func parseType(t string) (colType, bool) {
	var ct colType
	t = strings.TrimSpace(t)
	if in, ok := unwrap(t, "LowCardinality"); ok {
		ct.lowCard, t = true, in
	}
	if in, ok := unwrap(t, "Nullable"); ok {
		if ct.lowCard {
			return ct, false // LowCardinality(Nullable(…)): not supported
		}
		ct.nullable, t = true, in
	}
	switch {
	case t == "String":
		ct.base = tString
	case strings.HasPrefix(t, "FixedString("):
		in, _ := unwrap(t, "FixedString")
		n, err := strconv.Atoi(in)
		if err != nil || n <= 0 || n > 1<<16 {
			return ct, false
		}
		ct.base, ct.n = tFixed, n
	case t == "UInt8":
		ct.base = tU8
	case t == "UInt16":
		ct.base = tU16
	case t == "UInt32":
		ct.base = tU32
	case t == "UInt64":
		ct.base = tU64
	case t == "Int8":
		ct.base = tI8
	case t == "Int16":
		ct.base = tI16
	case t == "Int32":
		ct.base = tI32
	case t == "Int64":
		ct.base = tI64
	case t == "Date":
		ct.base = tDate
	case t == "DateTime" || strings.HasPrefix(t, "DateTime("):
		ct.base = tDateTime
	case strings.HasPrefix(t, "DateTime64("):
		in, _ := unwrap(t, "DateTime64")
		p, _, _ := strings.Cut(in, ",")
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 0 || n > 9 {
			return ct, false
		}
		ct.base, ct.n = tDateTime64, n
	case t == "IPv4":
		ct.base = tIPv4
	case t == "IPv6":
		ct.base = tIPv6
	default:
		return ct, false
	}
	if ct.lowCard && ct.base != tString && ct.base != tFixed {
		return ct, false
	}
	return ct, true
}

func unwrap(t, name string) (string, bool) {
	if strings.HasPrefix(t, name+"(") && strings.HasSuffix(t, ")") {
		return t[len(name)+1 : len(t)-1], true
	}
	return "", false
}

// fits reports whether values of kind k can be written as ct.
func fits(k kind, ct colType) bool {
	switch k {
	case kindStr:
		return ct.base == tString || ct.base == tFixed
	case kindIP:
		return ct.base == tString || ct.base == tFixed || ct.base == tIPv4 || ct.base == tIPv6
	case kindNum:
		return ct.base >= tU8 && ct.base <= tI64 || ct.base == tString
	case kindDate, kindMicro:
		return ct.base >= tU32 && ct.base <= tDateTime64 && ct.base != tI8 && ct.base != tI16
	}
	return false
}

// target is one column of the real table and how the sink fills it.
type target struct {
	col  *column
	name string // as in the table
	typ  string // as in system.columns; sent in the block header
	ct   colType
}

// TableColumn is one row of system.columns for the capture table.
type TableColumn struct {
	Name, Type string
	// DefaultKind is "" or DEFAULT, MATERIALIZED, ALIAS (EPHEMERAL on new servers).
	DefaultKind string
}

// ErrMissingColumn is wrapped by layout errors naming a required column
// the table lacks.
var ErrMissingColumn = errors.New("required column missing")

// ErrColumnType is wrapped by layout errors naming a column whose type the
// sink cannot write its values to.
var ErrColumnType = errors.New("column type not writable")

// Layout is the set of columns the sink writes into an existing table, each
// with the type the table really has, and the INSERT statement for them.
type Layout struct {
	targets []target
	// Query is "INSERT INTO `db`.`table` (`col`, …) FORMAT Native".
	Query string
	// Skipped lists the sink's optional columns the table does not have.
	Skipped []string
}

// NewLayout matches the sink's columns against the table's columns (as read
// from system.columns). Columns the table has but the sink does not know, or
// that are MATERIALIZED/ALIAS, are left to the server. A required column the
// table lacks, or a type the sink cannot write, is an error naming it.
func NewLayout(database, table string, have []TableColumn) (*Layout, error) {
	if !validIdent(database) || !validIdent(table) {
		return nil, fmt.Errorf("table %q.%q: %w", database, table, ErrIdent)
	}
	byName := make(map[string]TableColumn, len(have))
	for _, c := range have {
		byName[c.Name] = c
	}
	l := &Layout{}
	var names []string
	for i := range columns {
		c := &columns[i]
		tc, ok := byName[c.name]
		if ok && (tc.DefaultKind == "MATERIALIZED" || tc.DefaultKind == "ALIAS" || tc.DefaultKind == "EPHEMERAL") {
			ok = false
		}
		if !ok {
			if c.required {
				return nil, fmt.Errorf("table %s.%s: column %s: %w", database, table, c.name, ErrMissingColumn)
			}
			l.Skipped = append(l.Skipped, c.name)
			continue
		}
		ct, ok := parseType(tc.Type)
		if !ok || !fits(c.kind, ct) {
			return nil, fmt.Errorf("table %s.%s: column %s has type %s: %w", database, table, c.name, tc.Type, ErrColumnType)
		}
		l.targets = append(l.targets, target{col: c, name: c.name, typ: tc.Type, ct: ct})
		names = append(names, "`"+c.name+"`")
	}
	l.Query = fmt.Sprintf("INSERT INTO `%s`.`%s` (%s) FORMAT Native", database, table, strings.Join(names, ", "))
	return l, nil
}

// Columns returns the names of the columns the layout writes, in order.
func (l *Layout) Columns() []string {
	out := make([]string, len(l.targets))
	for i, t := range l.targets {
		out[i] = t.name
	}
	return out
}

// Encoder turns batches into the body of an INSERT … FORMAT Native: Native
// blocks (revision 0, no custom serialization) cut into ClickHouse
// compressed frames. One Encoder per flusher goroutine; it reuses its
// buffers, so it is not safe for concurrent use.
type Encoder struct {
	layout  *Layout
	method  compress.Method
	raw     proto.Buffer
	w       *compress.Writer
	scratch proto.ColStr
	dict    map[string]int
	dictStr proto.ColStr
	keys    []int
}

// frameSize is the uncompressed size of one compressed frame, as
// clickhouse-client uses (max_compress_block_size).
const frameSize = 1 << 20

// NewEncoder returns an encoder for layout l; method is compress.LZ4,
// compress.ZSTD or compress.None (frames are still written, uncompressed).
func NewEncoder(l *Layout, method compress.Method) *Encoder {
	return &Encoder{layout: l, method: method, w: compress.NewWriter(compress.LevelZero, method), dict: map[string]int{}}
}

// AppendBlock appends b as one raw Native block (uncompressed) to dst.
func (e *Encoder) AppendBlock(dst []byte, b *SIPBatch) []byte {
	e.raw.Buf = dst
	e.encodeBlock(&e.raw, b)
	return e.raw.Buf
}

// AppendCompressed appends raw (Native bytes) to dst as compressed frames.
func (e *Encoder) AppendCompressed(dst, raw []byte) ([]byte, error) {
	for len(raw) > 0 {
		n := min(len(raw), frameSize)
		if err := e.w.Compress(raw[:n]); err != nil {
			return dst, fmt.Errorf("compress frame: %w", err)
		}
		dst = append(dst, e.w.Data...)
		raw = raw[n:]
	}
	return dst, nil
}

// AppendBody appends the compressed Native blocks of every batch in bs to
// dst and returns the rows it holds. Empty batches are skipped.
func (e *Encoder) AppendBody(dst []byte, bs []*SIPBatch) ([]byte, int, error) {
	rows := 0
	for _, b := range bs {
		if b.rows == 0 {
			continue
		}
		rows += b.rows
		e.raw.Buf = e.raw.Buf[:0]
		e.encodeBlock(&e.raw, b)
		var err error
		if dst, err = e.AppendCompressed(dst, e.raw.Buf); err != nil {
			return dst, 0, err
		}
	}
	return dst, rows, nil
}

func (e *Encoder) encodeBlock(buf *proto.Buffer, b *SIPBatch) {
	ts := e.layout.targets
	buf.PutInt(len(ts))
	buf.PutInt(b.rows)
	for i := range ts {
		t := &ts[i]
		buf.PutString(t.name)
		buf.PutString(t.typ)
		if b.rows == 0 {
			continue
		}
		e.encodeColumn(buf, t, b)
	}
}

func (e *Encoder) encodeColumn(buf *proto.Buffer, t *target, b *SIPBatch) {
	ct := t.ct
	if ct.nullable {
		// Null map: no value is NULL.
		buf.Buf = append(buf.Buf, make([]byte, b.rows)...)
	}
	k := t.col.kind
	if ct.base == tString || ct.base == tFixed {
		col := e.stringsOf(t.col, b, ct)
		if ct.lowCard {
			e.encodeLowCard(buf, col, ct)
			return
		}
		if ct.base == tFixed {
			appendFixed(buf, col, ct.n)
			return
		}
		col.EncodeColumn(buf)
		return
	}
	switch {
	case k == kindIP && ct.base == tIPv6:
		for _, a := range b.ip[t.col.idx] {
			v := a.As16()
			buf.Buf = append(buf.Buf, v[:]...)
		}
		return
	case k == kindIP && ct.base == tIPv4:
		for _, a := range b.ip[t.col.idx] {
			var v uint32
			if a.Unmap().Is4() {
				v = binary.BigEndian.Uint32(a.Unmap().AsSlice())
			}
			buf.Buf = binary.LittleEndian.AppendUint32(buf.Buf, v)
		}
		return
	}
	for i := 0; i < b.rows; i++ {
		var v int64
		switch k {
		case kindNum:
			v = int64(b.num[t.col.idx][i])
		case kindDate, kindMicro:
			v = timeValue(b.ts[i], k, ct)
		}
		buf.Buf = appendInt(buf.Buf, ct.base, v)
	}
}

// timeValue converts micro (µs since the epoch) to the unit of ct: seconds
// for DateTime and integer types holding date, days for Date, ticks for
// DateTime64, microseconds for integer types holding micro_ts.
func timeValue(micro int64, k kind, ct colType) int64 {
	switch ct.base {
	case tDate:
		return floorDiv(micro, 86_400_000_000)
	case tDateTime:
		return floorDiv(micro, 1_000_000)
	case tDateTime64:
		switch {
		case ct.n < 6:
			return floorDiv(micro, pow10(6-ct.n))
		case ct.n > 6:
			return micro * pow10(ct.n-6)
		}
		return micro
	}
	if k == kindDate {
		return floorDiv(micro, 1_000_000)
	}
	return micro
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func pow10(n int) int64 {
	p := int64(1)
	for ; n > 0; n-- {
		p *= 10
	}
	return p
}

func appendInt(dst []byte, b base, v int64) []byte {
	switch b {
	case tU8, tI8:
		return append(dst, byte(v))
	case tU16, tI16, tDate:
		return binary.LittleEndian.AppendUint16(dst, uint16(v))
	case tU32, tI32, tDateTime:
		return binary.LittleEndian.AppendUint32(dst, uint32(v))
	default: // 64-bit and DateTime64
		return binary.LittleEndian.AppendUint64(dst, uint64(v))
	}
}

// stringsOf returns the string values of column c: the batch's own column
// for strings, or e.scratch filled with the text (or, for FixedString,
// binary) form of addresses and numbers.
func (e *Encoder) stringsOf(c *column, b *SIPBatch, ct colType) *proto.ColStr {
	switch c.kind {
	case kindStr:
		return &b.str[c.idx]
	case kindIP:
		e.scratch.Reset()
		for _, a := range b.ip[c.idx] {
			start := len(e.scratch.Buf)
			if ct.base == tFixed {
				v := a.As16()
				e.scratch.Buf = append(e.scratch.Buf, v[:]...)
			} else {
				e.scratch.Buf = appendIPText(e.scratch.Buf, a)
			}
			e.scratch.Pos = append(e.scratch.Pos, proto.Position{Start: start, End: len(e.scratch.Buf)})
		}
	case kindNum:
		e.scratch.Reset()
		for _, v := range b.num[c.idx] {
			start := len(e.scratch.Buf)
			e.scratch.Buf = appendUint(e.scratch.Buf, uint64(v))
			e.scratch.Pos = append(e.scratch.Pos, proto.Position{Start: start, End: len(e.scratch.Buf)})
		}
	}
	return &e.scratch
}

// appendFixed writes each value as exactly n bytes: padded with zero bytes,
// cut when longer.
func appendFixed(buf *proto.Buffer, col *proto.ColStr, n int) {
	for _, p := range col.Pos {
		v := col.Buf[p.Start:p.End]
		if len(v) > n {
			v = v[:n]
		}
		buf.Buf = append(buf.Buf, v...)
		buf.Buf = append(buf.Buf, make([]byte, n-len(v))...)
	}
}

// LowCardinality serialization (revision 0, one block): the key
// serialization version, then flags|key width, the dictionary as additional
// keys, and the keys. See ClickHouse SerializationLowCardinality.
const (
	lcSharedDictionariesWithAdditionalKeys = 1
	lcHasAdditionalKeys                    = 1 << 9
	lcNeedUpdateDictionary                 = 1 << 10
)

func (e *Encoder) encodeLowCard(buf *proto.Buffer, col *proto.ColStr, ct colType) {
	clear(e.dict)
	e.dictStr.Reset()
	e.keys = e.keys[:0]
	for _, p := range col.Pos {
		v := col.Buf[p.Start:p.End]
		if ct.base == tFixed && len(v) != ct.n {
			// Rare: FixedString dictionaries need exact lengths.
			fixed := make([]byte, ct.n)
			copy(fixed, v)
			v = fixed
		}
		id, ok := e.dict[string(v)]
		if !ok {
			id = len(e.dictStr.Pos)
			e.dict[string(v)] = id
			e.dictStr.AppendBytes(v)
		}
		e.keys = append(e.keys, id)
	}
	n := len(e.dictStr.Pos)
	var width int64
	switch {
	case n <= 1<<8:
		width = 0
	case n <= 1<<16:
		width = 1
	default:
		width = 2
	}
	buf.PutInt64(lcSharedDictionariesWithAdditionalKeys)
	buf.PutInt64(lcHasAdditionalKeys | lcNeedUpdateDictionary | width)
	buf.PutInt64(int64(n))
	if ct.base == tFixed {
		buf.Buf = append(buf.Buf, e.dictStr.Buf...)
	} else {
		e.dictStr.EncodeColumn(buf)
	}
	buf.PutInt64(int64(len(e.keys)))
	for _, k := range e.keys {
		switch width {
		case 0:
			buf.Buf = append(buf.Buf, byte(k))
		case 1:
			buf.Buf = binary.LittleEndian.AppendUint16(buf.Buf, uint16(k))
		default:
			buf.Buf = binary.LittleEndian.AppendUint32(buf.Buf, uint32(k))
		}
	}
}
