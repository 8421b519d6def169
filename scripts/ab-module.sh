# ab-module.sh is sourced by decode-ab.sh and capture-ab.sh.
#
# ab_module REV REPO TMP makes TMP a Go module "decodeab" whose package
# decodeab/old is REV's decode package (tests left out) and which imports
# the working tree's packages from REPO, so that a program in TMP can run
# the two decoders side by side in one process.
ab_module() {
	local rev=$1 repo=$2 tmp=$3
	mkdir -p "$tmp/old" "$tmp/ab"
	git -C "$repo" archive "$rev" decode | tar -x -C "$tmp/old" --strip-components=1
	rm -f "$tmp"/old/*_test.go
	sed -e 's#^module .*#module decodeab#' "$repo/go.mod" >"$tmp/go.mod"
	cp "$repo/go.sum" "$tmp/go.sum"
	cat >>"$tmp/go.mod" <<EOM

require github.com/sipcap/appliance v0.0.0
replace github.com/sipcap/appliance => $repo
EOM
}
