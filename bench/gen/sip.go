package gen

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
)

// Transport is the SIP transport a scenario is generated for.
type Transport uint8

// Transports.
const (
	UDP Transport = iota
	TCP
)

func (t Transport) String() string {
	if t == TCP {
		return "TCP"
	}
	return "UDP"
}

// Message is one generated SIP message and where it travels.
type Message struct {
	// Data is the whole message: start line, headers and body.
	Data []byte
	// CallID is the Call-ID value; CallIDOff its offset in Data. The first
	// CallIDEpochLen bytes of the value are a hex "epoch" that senders may
	// overwrite (PatchEpoch) to make a pool of messages unique again.
	CallID    string
	CallIDOff int
	// CSeq is the CSeq number and CSeqMethod its method.
	CSeq       uint32
	CSeqMethod string
	// Method is the request method, empty for replies; Status the reply
	// code, 0 for requests.
	Method string
	Status int
	// Src and Dst are the IP endpoints; Transport the SIP transport.
	Src, Dst  netip.AddrPort
	Transport Transport
	// Scenario numbers the dialog (or registration, or ping) the message
	// belongs to, from 0 in generation order; First is true for its first
	// message.
	Scenario int
	First    bool
}

// CallIDEpochLen is the length of the hex epoch at the start of each Call-ID.
const CallIDEpochLen = 8

// PatchEpoch overwrites the epoch of the Call-ID found at off in b (a
// message, or a packet holding one at off) with e as 8 hex digits.
func PatchEpoch(b []byte, off int, e uint32) {
	const hex = "0123456789abcdef"
	for i := CallIDEpochLen - 1; i >= 0; i-- {
		b[off+i] = hex[e&15]
		e >>= 4
	}
}

// Kind names a scenario.
type Kind uint8

// Scenario kinds.
const (
	KindCall     Kind = iota // INVITE/100/180/200/ACK/BYE/200: 7 messages
	KindRegister             // REGISTER/401/REGISTER/200: 4 messages
	KindOptions              // OPTIONS/200: 2 messages
)

// Options chooses what one scenario looks like.
type Options struct {
	Transport Transport
	IPv6      bool
	// BigSDP makes the INVITE and its 200 carry a long SDP offer (audio and
	// video, many codecs) so that over UDP they exceed a 1500-byte MTU.
	BigSDP bool
}

// Generator produces scenarios. It is deterministic for a given seed and not
// safe for concurrent use.
type Generator struct {
	rnd      *rand.Rand
	scenario int
	epoch    uint32
}

// New returns a Generator seeded with seed.
func New(seed uint64) *Generator {
	return &Generator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), epoch: uint32(seed)}
}

// Scenarios is the number of scenarios generated so far.
func (g *Generator) Scenarios() int { return g.scenario }

var (
	firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda"}
	displayNames = map[string]string{"alice": "Alice Liddell", "bob": "Bob Marley", "carol": "Carol Danvers",
		"dave": "Dave Lister", "erin": "Erin Brockovich", "frank": "Frank Poole", "grace": "Grace Hopper",
		"heidi": "Heidi Klum", "ivan": "Ivan Petrov", "judy": "Judy Hopps"}
	domains = []string{"atlanta.example.com", "biloxi.example.com", "chicago.example.net", "voip.example.org",
		"pbx.example.de", "sip.example.co.uk"}
	userAgents = []string{
		"Linphone/5.2.0 (belle-sip/5.2.0)", "Zoiper rv2.10.19.6", "MicroSIP/3.21.3",
		"Yealink SIP-T46S 66.86.0.15", "PolycomVVX-VVX_450-UA/6.4.3.5018", "Grandstream GXP2170 1.0.11.23",
		"OBIHAI/OBi200-3.2.2.5921", "Cisco-CP8845/14.2.1", "snom D785/10.1.141.13", "Bria 6 release 6.6.3",
		"Telephone 1.6", "Jitsi2.10.5550Linux", "FRITZ!OS", "Asterisk PBX 20.5.0",
	}
	servers = []string{"Kamailio (5.7.2 (x86_64/linux))", "OpenSIPS (3.4.2 (x86_64/linux))",
		"FreeSWITCH-mod_sofia/1.10.11-release~64bit", "Asterisk PBX 20.5.0", "FPBX-16.0.40(18.20.0)"}
)

func (g *Generator) pick(list []string) string { return list[g.rnd.IntN(len(list))] }

func (g *Generator) hex(n int) string {
	const hex = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hex[g.rnd.IntN(16)]
	}
	return string(b)
}

// user is one endpoint of a scenario.
type user struct {
	name, display, domain, ua string
	ip                        netip.Addr
	port                      uint16
}

func (g *Generator) user(v6 bool, server bool) user {
	name := g.pick(firstNames)
	if g.rnd.IntN(3) == 0 {
		name = strconv.Itoa(100 + g.rnd.IntN(900))
	} else if g.rnd.IntN(2) == 0 {
		name += strconv.Itoa(g.rnd.IntN(100))
	}
	u := user{name: name, display: displayNames[name], domain: g.pick(domains), port: 5060}
	if server {
		u.ua = g.pick(servers)
	} else {
		u.ua = g.pick(userAgents)
		u.port = uint16(5060 + g.rnd.IntN(3)*2)
		if g.rnd.IntN(4) == 0 {
			u.port = uint16(20000 + g.rnd.IntN(40000))
		}
	}
	if v6 {
		var a [16]byte
		a[0], a[1], a[2], a[3] = 0x20, 0x01, 0x0d, 0xb8
		a[14], a[15] = byte(g.rnd.IntN(256)), byte(1+g.rnd.IntN(254))
		if server {
			a[13] = 0x53
		}
		u.ip = netip.AddrFrom16(a)
	} else if server {
		u.ip = netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + g.rnd.IntN(254))})
	} else {
		u.ip = netip.AddrFrom4([4]byte{10, byte(g.rnd.IntN(256)), byte(g.rnd.IntN(256)), byte(1 + g.rnd.IntN(254))})
	}
	return u
}

// hostport is the host:port text of an endpoint (IPv6 in brackets).
func (u user) hostport() string   { return netip.AddrPortFrom(u.ip, u.port).String() }
func (u user) ap() netip.AddrPort { return netip.AddrPortFrom(u.ip, u.port) }
func (u user) uri() string        { return "sip:" + u.name + "@" + u.domain }

func (u user) nameAddr() string {
	if u.display != "" {
		return `"` + u.display + `" <` + u.uri() + ">"
	}
	return "<" + u.uri() + ">"
}

// msgBuilder assembles one message.
type msgBuilder struct {
	sb        strings.Builder
	callIDOff int
}

func (b *msgBuilder) line(s ...string) {
	for _, p := range s {
		b.sb.WriteString(p)
	}
	b.sb.WriteString("\r\n")
}

func (b *msgBuilder) callID(id string) {
	b.sb.WriteString("Call-ID: ")
	b.callIDOff = b.sb.Len()
	b.line(id)
}

func (b *msgBuilder) body(contentType, body string) []byte {
	if body != "" {
		b.line("Content-Type: ", contentType)
	}
	b.line("Content-Length: ", strconv.Itoa(len(body)))
	b.line()
	b.sb.WriteString(body)
	return []byte(b.sb.String())
}

// dialog is the shared state of one scenario.
type dialog struct {
	g              *Generator
	o              Options
	callID         string
	caller, callee user // callee is the far end (a proxy or registrar address for REGISTER/OPTIONS)
	fromTag, toTag string
	out            []Message
}

func (d *dialog) via(from user, branch string) string {
	return "Via: SIP/2.0/" + d.o.Transport.String() + " " + from.hostport() + ";branch=z9hG4bK" + branch + ";rport"
}

func (d *dialog) add(b *msgBuilder, data []byte, cseq uint32, cseqMethod, method string, status int, src, dst user) {
	d.out = append(d.out, Message{Data: data, CallID: d.callID, CallIDOff: b.callIDOff, CSeq: cseq,
		CSeqMethod: cseqMethod, Method: method, Status: status, Src: src.ap(), Dst: dst.ap(),
		Transport: d.o.Transport, Scenario: d.g.scenario, First: len(d.out) == 0})
}

// request builds a request from src to dst inside the dialog.
func (d *dialog) request(method string, cseq uint32, src, dst user, toTag string, extra []string, ctype, body string) {
	var b msgBuilder
	ruri := dst.uri()
	if method == "ACK" || method == "BYE" {
		ruri = "sip:" + dst.name + "@" + dst.hostport()
	}
	if method == "REGISTER" {
		ruri = "sip:" + src.domain
	}
	b.line(method, " ", ruri, " SIP/2.0")
	b.line(d.via(src, d.g.hex(12)))
	b.line("Max-Forwards: 70")
	from, to := d.caller, d.callee
	fromTag := d.fromTag
	if src.ip != d.caller.ip { // a BYE from the callee swaps From and To
		from, to = d.callee, d.caller
		fromTag, toTag = d.toTag, d.fromTag
	}
	b.line("From: ", from.nameAddr(), ";tag=", fromTag)
	if toTag != "" {
		b.line("To: ", to.nameAddr(), ";tag=", toTag)
	} else {
		b.line("To: ", to.nameAddr())
	}
	b.callID(d.callID)
	b.line("CSeq: ", strconv.FormatUint(uint64(cseq), 10), " ", method)
	if method != "ACK" && method != "BYE" {
		b.line("Contact: <sip:", src.name, "@", src.hostport(), ">")
	}
	for _, e := range extra {
		b.line(e)
	}
	b.line("User-Agent: ", src.ua)
	d.add(&b, b.body(ctype, body), cseq, method, method, 0, src, dst)
}

// reply builds a reply to the last request sent from dst to src.
func (d *dialog) reply(status int, reason string, cseq uint32, method string, src, dst user, toTag string, extra []string, ctype, body string) {
	var b msgBuilder
	b.line("SIP/2.0 ", strconv.Itoa(status), " ", reason)
	b.line(d.via(dst, d.g.hex(12)))
	from, to := d.caller, d.callee
	fromTag := d.fromTag
	if dst.ip != d.caller.ip {
		from, to = d.callee, d.caller
		fromTag = d.toTag
	}
	b.line("From: ", from.nameAddr(), ";tag=", fromTag)
	if toTag != "" {
		b.line("To: ", to.nameAddr(), ";tag=", toTag)
	} else {
		b.line("To: ", to.nameAddr())
	}
	b.callID(d.callID)
	b.line("CSeq: ", strconv.FormatUint(uint64(cseq), 10), " ", method)
	for _, e := range extra {
		b.line(e)
	}
	b.line("Server: ", src.ua)
	d.add(&b, b.body(ctype, body), cseq, method, "", status, src, dst)
}

func (g *Generator) newDialog(o Options) *dialog {
	d := &dialog{g: g, o: o, fromTag: g.hex(10), toTag: g.hex(10)}
	d.caller = g.user(o.IPv6, false)
	d.callee = g.user(o.IPv6, g.rnd.IntN(2) == 0)
	d.callee.domain = d.caller.domain
	var e [CallIDEpochLen]byte
	PatchEpoch(e[:], 0, g.epoch)
	d.callID = fmt.Sprintf("%s%08x-%s@%s", e[:], g.scenario, g.hex(12), d.caller.ip.String())
	return d
}

func (d *dialog) done() []Message {
	d.g.scenario++
	return d.out
}

// sdp returns an SDP offer or answer from u.
func (g *Generator) sdp(u user, big bool) string {
	ipv := "IP4"
	if u.ip.Is6() {
		ipv = "IP6"
	}
	ip := u.ip.String()
	sess := strconv.Itoa(1000000000 + g.rnd.IntN(1000000000))
	port := strconv.Itoa(10000 + 2*g.rnd.IntN(10000))
	var b strings.Builder
	b.WriteString("v=0\r\no=" + u.name + " " + sess + " " + sess + " IN " + ipv + " " + ip + "\r\ns=-\r\nc=IN " + ipv + " " + ip + "\r\nt=0 0\r\n")
	if !big {
		b.WriteString("m=audio " + port + " RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n" +
			"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n")
		return b.String()
	}
	b.WriteString("m=audio " + port + " RTP/SAVPF 111 9 0 8 18 101 13\r\n")
	for _, a := range []string{"rtpmap:111 opus/48000/2", "fmtp:111 minptime=10;useinbandfec=1;stereo=0;sprop-stereo=0",
		"rtpmap:9 G722/8000", "rtpmap:0 PCMU/8000", "rtpmap:8 PCMA/8000", "rtpmap:18 G729/8000", "fmtp:18 annexb=no",
		"rtpmap:101 telephone-event/8000", "fmtp:101 0-16", "rtpmap:13 CN/8000", "ptime:20", "maxptime:60", "rtcp-mux", "rtcp-fb:111 transport-cc",
		"crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + g.hex(40), "crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" + g.hex(40),
		"ice-ufrag:" + g.hex(8), "ice-pwd:" + g.hex(24),
		"candidate:1 1 UDP 2130706431 " + ip + " " + port + " typ host",
		"candidate:2 1 UDP 1694498815 198.51.100.7 " + port + " typ srflx raddr " + ip + " rport " + port, "sendrecv"} {
		b.WriteString("a=" + a + "\r\n")
	}
	b.WriteString("m=video " + port + "2 RTP/SAVPF 96 97 98 99 100\r\n")
	for _, a := range []string{"rtpmap:96 VP8/90000", "rtcp-fb:96 ccm fir", "rtcp-fb:96 nack", "rtcp-fb:96 nack pli", "rtcp-fb:96 goog-remb",
		"rtpmap:97 rtx/90000", "fmtp:97 apt=96", "rtpmap:98 VP9/90000", "fmtp:98 profile-id=0",
		"rtpmap:99 H264/90000", "fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		"rtpmap:100 red/90000", "rtcp-mux", "sendrecv", "content:main", "label:" + g.hex(16)} {
		b.WriteString("a=" + a + "\r\n")
	}
	return b.String()
}

// Call generates one INVITE dialog: INVITE (SDP), 100, 180, 200 (SDP), ACK,
// BYE (from either side), 200.
func (g *Generator) Call(o Options) []Message {
	d := g.newDialog(o)
	a, b := d.caller, d.callee
	allow := "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE, PRACK"
	d.request("INVITE", 1, a, b, "", []string{allow, "Supported: replaces, timer", "Session-Expires: 1800"}, "application/sdp", g.sdp(a, o.BigSDP))
	d.reply(100, "Trying", 1, "INVITE", b, a, "", nil, "", "")
	d.reply(180, "Ringing", 1, "INVITE", b, a, d.toTag, []string{"Contact: <sip:" + b.name + "@" + b.hostport() + ">"}, "", "")
	d.reply(200, "OK", 1, "INVITE", b, a, d.toTag, []string{"Contact: <sip:" + b.name + "@" + b.hostport() + ">", allow}, "application/sdp", g.sdp(b, o.BigSDP))
	d.request("ACK", 1, a, b, d.toTag, nil, "", "")
	if g.rnd.IntN(2) == 0 {
		d.request("BYE", 2, a, b, d.toTag, []string{"Reason: Q.850;cause=16;text=\"Normal call clearing\""}, "", "")
		d.reply(200, "OK", 2, "BYE", b, a, d.toTag, nil, "", "")
	} else {
		d.request("BYE", 2, b, a, d.fromTag, nil, "", "")
		d.reply(200, "OK", 2, "BYE", a, b, d.fromTag, nil, "", "")
	}
	return d.done()
}

// Register generates REGISTER, 401 with a digest challenge, REGISTER with
// credentials, 200.
func (g *Generator) Register(o Options) []Message {
	d := g.newDialog(o)
	a, r := d.caller, d.callee
	d.callee = d.caller // To is the AOR being registered
	nonce := g.hex(32)
	exp := []string{"Expires: 3600"}
	d.request("REGISTER", 1, a, r, "", exp, "", "")
	d.reply(401, "Unauthorized", 1, "REGISTER", r, a, g.hex(10),
		[]string{`WWW-Authenticate: Digest realm="` + a.domain + `", nonce="` + nonce + `", algorithm=MD5, qop="auth"`}, "", "")
	auth := `Authorization: Digest username="` + a.name + `", realm="` + a.domain + `", nonce="` + nonce +
		`", uri="sip:` + a.domain + `", response="` + g.hex(32) + `", algorithm=MD5, cnonce="` + g.hex(8) + `", qop=auth, nc=00000001`
	d.request("REGISTER", 2, a, r, "", append(exp, auth), "", "")
	d.reply(200, "OK", 2, "REGISTER", r, a, g.hex(10), []string{"Contact: <sip:" + a.name + "@" + a.hostport() + ">;expires=3600"}, "", "")
	return d.done()
}

// Options generates an OPTIONS keepalive and its 200.
func (g *Generator) Options(o Options) []Message {
	d := g.newDialog(o)
	a, b := d.caller, d.callee
	d.request("OPTIONS", 1, a, b, "", []string{"Accept: application/sdp"}, "", "")
	d.reply(200, "OK", 1, "OPTIONS", b, a, d.toTag, []string{"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS", "Accept: application/sdp"}, "", "")
	return d.done()
}

// Scenario generates one scenario of kind k.
func (g *Generator) Scenario(k Kind, o Options) []Message {
	switch k {
	case KindRegister:
		return g.Register(o)
	case KindOptions:
		return g.Options(o)
	}
	return g.Call(o)
}

// NextKind picks a scenario kind: 60 % calls, 25 % registrations, 15 % pings.
func (g *Generator) NextKind() Kind {
	switch n := g.rnd.IntN(100); {
	case n < 60:
		return KindCall
	case n < 85:
		return KindRegister
	}
	return KindOptions
}

// Intn returns a pseudo-random number in [0,n) from the generator's stream.
func (g *Generator) Intn(n int) int { return g.rnd.IntN(n) }
