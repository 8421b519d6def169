package sink

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// kind is how a column's values are held in a SIPBatch before encoding.
type kind uint8

const (
	kindDate  kind = iota // capture time in seconds, from SIPBatch.ts
	kindMicro             // capture time in microseconds, from SIPBatch.ts
	kindStr               // bytes, from SIPBatch.str[idx]
	kindNum               // unsigned integer, from SIPBatch.num[idx]
	kindIP                // netip.Addr, from SIPBatch.ip[idx]
)

// Indexes of string columns in SIPBatch.str.
const (
	sMethod = iota
	sReplyReason
	sRURI
	sRURIUser
	sRURIDomain
	sFromUser
	sFromDomain
	sFromTag
	sToUser
	sToDomain
	sToTag
	sPIDUser
	sContactUser
	sAuthUser
	sCallID
	sCallIDAleg
	sVia1
	sVia1Branch
	sCSeq
	sDiversion
	sReason
	sContentType
	sAuth
	sUserAgent
	sContactIP
	sOriginatorIP
	sCorrelationID
	sCustom1
	sCustom2
	sCustom3
	sRTPStat
	sNode
	sMsg
	sEncap
	sCSeqMethod
	numStr
)

// Indexes of integer columns in SIPBatch.num.
const (
	nSourcePort = iota
	nDestinationPort
	nContactPort
	nOriginatorPort
	nProto
	nFamily
	nType
	nCaptureID
	nVLAN
	nStatus
	numNum
)

// Indexes of address columns in SIPBatch.ip.
const (
	ipSource = iota
	ipDestination
	numIP
)

// column describes one column of the capture table: its name, where its
// values live in a batch, and its type in each dialect.
type column struct {
	name     string
	kind     kind
	idx      int
	required bool   // a table without it is rejected at start
	legacy   string // type on servers before 20.3 (18.16 …)
	modern   string // type on current servers, with codec
}

const (
	zstd1 = " CODEC(ZSTD(1))"
	lc    = "LowCardinality(String)"
)

func strCol(name string, idx int, lowCard bool) column {
	c := column{name: name, kind: kindStr, idx: idx, legacy: "String", modern: "String" + zstd1}
	if lowCard {
		c.modern = lc
	}
	return c
}

func numCol(name string, idx int, typ string) column {
	return column{name: name, kind: kindNum, idx: idx, legacy: typ, modern: typ}
}

// columns is the capture table: the sipcapture (Homer 5) columns in their
// order, then the columns this appliance adds. Names are the contract with
// existing queries; see ../shared/reference/sip-fields.md.
var columns = []column{
	{name: "date", kind: kindDate, required: true, legacy: "DateTime", modern: "DateTime CODEC(Delta, ZSTD(1))"},
	{name: "micro_ts", kind: kindMicro, required: true, legacy: "UInt64", modern: "DateTime64(6) CODEC(Delta, ZSTD(1))"},
	strCol("method", sMethod, true),
	strCol("reply_reason", sReplyReason, true),
	strCol("ruri", sRURI, false),
	strCol("ruri_user", sRURIUser, false),
	strCol("ruri_domain", sRURIDomain, true),
	strCol("from_user", sFromUser, false),
	strCol("from_domain", sFromDomain, true),
	strCol("from_tag", sFromTag, false),
	strCol("to_user", sToUser, false),
	strCol("to_domain", sToDomain, true),
	strCol("to_tag", sToTag, false),
	strCol("pid_user", sPIDUser, false),
	strCol("contact_user", sContactUser, false),
	strCol("auth_user", sAuthUser, false),
	strCol("callid", sCallID, false),
	strCol("callid_aleg", sCallIDAleg, false),
	strCol("via_1", sVia1, false),
	strCol("via_1_branch", sVia1Branch, false),
	strCol("cseq", sCSeq, false),
	strCol("diversion", sDiversion, false),
	strCol("reason", sReason, false),
	strCol("content_type", sContentType, true),
	strCol("auth", sAuth, false),
	strCol("user_agent", sUserAgent, true),
	{name: "source_ip", kind: kindIP, idx: ipSource, required: true, legacy: "String", modern: "String" + zstd1},
	numCol("source_port", nSourcePort, "UInt16"),
	{name: "destination_ip", kind: kindIP, idx: ipDestination, required: true, legacy: "String", modern: "String" + zstd1},
	numCol("destination_port", nDestinationPort, "UInt16"),
	strCol("contact_ip", sContactIP, false),
	numCol("contact_port", nContactPort, "UInt16"),
	strCol("originator_ip", sOriginatorIP, false),
	numCol("originator_port", nOriginatorPort, "UInt16"),
	strCol("correlation_id", sCorrelationID, false),
	strCol("custom_field1", sCustom1, false),
	strCol("custom_field2", sCustom2, false),
	strCol("custom_field3", sCustom3, false),
	numCol("proto", nProto, "UInt8"),
	numCol("family", nFamily, "UInt8"),
	strCol("rtp_stat", sRTPStat, false),
	numCol("type", nType, "UInt8"),
	strCol("node", sNode, true),
	{name: "msg", kind: kindStr, idx: sMsg, required: true, legacy: "String", modern: "String CODEC(ZSTD(3))"},
	// Beyond sipcapture.
	numCol("capture_id", nCaptureID, "UInt32"),
	numCol("vlan", nVLAN, "UInt16"),
	strCol("encap", sEncap, true),
	numCol("status", nStatus, "UInt16"),
	strCol("cseq_method", sCSeqMethod, true),
}

func init() {
	for i := range columns {
		if columns[i].name == "callid" {
			columns[i].required = true
		}
		if columns[i].name == "method" {
			columns[i].required = true
		}
	}
}

// Dialect is the flavour of DDL a server gets.
type Dialect uint8

const (
	// Legacy is for servers before 20.3 (Debian's 18.16): plain types,
	// DateTime plus UInt64 microseconds, no codecs, TTL or skip indexes.
	Legacy Dialect = iota
	// Modern is for 20.3 and later: LowCardinality, codecs, DateTime64(6),
	// TTL retention, bloom-filter skip indexes, deduplication window.
	Modern
)

func (d Dialect) String() string {
	if d == Modern {
		return "modern"
	}
	return "legacy"
}

// DialectFor returns the dialect for a server version string as returned
// by SELECT version() ("18.16.1", "24.8.4.13").
func DialectFor(version string) Dialect {
	major, minor := parseVersion(version)
	if major > 20 || (major == 20 && minor >= 3) {
		return Modern
	}
	return Legacy
}

func parseVersion(v string) (major, minor int) {
	parts := strings.SplitN(strings.TrimSpace(v), ".", 3)
	if len(parts) >= 1 {
		major, _ = strconv.Atoi(parts[0])
	}
	if len(parts) >= 2 {
		minor, _ = strconv.Atoi(parts[1])
	}
	return major, minor
}

// validIdent reports whether s is a plain identifier usable unquoted and
// inside backquotes: [A-Za-z_][A-Za-z0-9_]*, at most 128 bytes.
func validIdent(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// DDL returns the statements that create the database and the capture table
// in dialect d. The table is partitioned by day and ordered by
// (callid, micro_ts): a Call-ID lookup reads one or two granules per daily
// part instead of the day (see bench/results/sink.md for the measurement).
// retentionDays > 0 adds a TTL in the modern dialect; the legacy dialect
// drops old partitions instead (see Sink's retention loop).
func DDL(d Dialect, database, table string, retentionDays int) ([]string, error) {
	if !validIdent(database) {
		return nil, fmt.Errorf("database name %q: %w", database, ErrIdent)
	}
	if !validIdent(table) {
		return nil, fmt.Errorf("table name %q: %w", table, ErrIdent)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS `%s`.`%s` (\n", database, table)
	for i, c := range columns {
		typ := c.legacy
		if d == Modern {
			typ = c.modern
		}
		fmt.Fprintf(&b, "    `%s` %s", c.name, typ)
		if i < len(columns)-1 || d == Modern {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	if d == Modern {
		// callid is the sort key; these cover the other searches Homer users run.
		b.WriteString("    INDEX callid_aleg_bf callid_aleg TYPE bloom_filter(0.01) GRANULARITY 4,\n")
		b.WriteString("    INDEX ruri_user_bf ruri_user TYPE bloom_filter(0.01) GRANULARITY 4,\n")
		b.WriteString("    INDEX from_user_bf from_user TYPE bloom_filter(0.01) GRANULARITY 4,\n")
		b.WriteString("    INDEX to_user_bf to_user TYPE bloom_filter(0.01) GRANULARITY 4\n")
	}
	b.WriteString(")\nENGINE = MergeTree\nPARTITION BY toDate(date)\nORDER BY (callid, micro_ts)\n")
	if d == Modern {
		if retentionDays > 0 {
			fmt.Fprintf(&b, "TTL date + INTERVAL %d DAY DELETE\n", retentionDays)
		}
		b.WriteString("SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000")
	} else {
		b.WriteString("SETTINGS index_granularity = 8192")
	}
	return []string{
		fmt.Sprintf("CREATE DATABASE IF NOT EXISTS `%s`", database),
		b.String(),
	}, nil
}

// ErrIdent is wrapped by errors about a database or table name that is not
// a plain identifier ([A-Za-z_][A-Za-z0-9_]*).
var ErrIdent = errors.New("not a plain identifier")
