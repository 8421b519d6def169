package ring

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Listen is a parsed raw_socket_listen value: an optional address and an
// inclusive port range.
type Listen struct {
	// Addr is the listen address; the zero Addr (or an unspecified address
	// such as 0.0.0.0 or ::) means any.
	Addr           netip.Addr
	PortLo, PortHi uint16
}

// AnyAddr reports whether the listen address matches every address.
func (l Listen) AnyAddr() bool { return !l.Addr.IsValid() || l.Addr.IsUnspecified() }

// ParseListen parses raw_socket_listen: "IP:port", "IP:port-port", ":port",
// "[IPv6]:port-port". The IP may be empty or 0.0.0.0 for any.
func ParseListen(s string) (Listen, error) {
	var l Listen
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return l, fmt.Errorf("parse listen %q: want IP:port or IP:port-port", s)
	}
	host, ports := s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return l, fmt.Errorf("parse listen %q: %w", s, err)
		}
		l.Addr = a.Unmap()
	}
	lo, hi, ok := strings.Cut(ports, "-")
	if !ok {
		hi = lo
	}
	plo, err1 := strconv.ParseUint(lo, 10, 16)
	phi, err2 := strconv.ParseUint(hi, 10, 16)
	switch {
	case err1 != nil || err2 != nil:
		return l, fmt.Errorf("parse listen %q: ports must be numbers 1-65535", s)
	case plo == 0 || phi == 0:
		return l, fmt.Errorf("parse listen %q: port 0 is not a port", s)
	case plo > phi:
		return l, fmt.Errorf("parse listen %q: port range %d-%d is reversed", s, plo, phi)
	}
	l.PortLo, l.PortHi = uint16(plo), uint16(phi)
	return l, nil
}

// Match reports whether port lies in the range.
func (l Listen) Match(port uint16) bool { return port >= l.PortLo && port <= l.PortHi }
