package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"log/slog"
	"slices"
	"testing"
	"testing/iotest"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

const flagExhaustAllowed = uint32(1) << 16

func marshal(t *testing.T, d any) []byte {
	t.Helper()

	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}

	return b
}

// section is one OP_MSG section: kind 0 (body) or kind 1 (document sequence).
type section struct {
	kind byte
	id   string   // kind 1 only
	docs [][]byte // exactly one for kind 0
}

// buildMsg assembles an OP_MSG message; with checksumPresent in flags a valid CRC-32C is appended.
func buildMsg(flags uint32, sections ...section) []byte {
	msg := make([]byte, headerLen+4)
	binary.LittleEndian.PutUint32(msg[4:8], 0x01020304)  // requestID
	binary.LittleEndian.PutUint32(msg[8:12], 0x0a0b0c0d) // responseTo
	binary.LittleEndian.PutUint32(msg[12:16], opCodeMsg) // opCode
	binary.LittleEndian.PutUint32(msg[16:20], flags)     // flagBits

	for _, s := range sections {
		msg = append(msg, s.kind)

		switch s.kind {
		case 0:
			msg = append(msg, s.docs[0]...)
		case 1:
			size := 4 + len(s.id) + 1
			for _, d := range s.docs {
				size += len(d)
			}

			msg = binary.LittleEndian.AppendUint32(msg, uint32(size))
			msg = append(msg, s.id...)
			msg = append(msg, 0)

			for _, d := range s.docs {
				msg = append(msg, d...)
			}
		}
	}

	if flags&flagChecksumPresent != 0 {
		msg = append(msg, 0, 0, 0, 0) // placeholder, length must include it
	}

	binary.LittleEndian.PutUint32(msg[0:4], uint32(len(msg)))

	if flags&flagChecksumPresent != 0 {
		sum := crc32.Checksum(msg[:len(msg)-4], crc32.MakeTable(crc32.Castagnoli))
		binary.LittleEndian.PutUint32(msg[len(msg)-4:], sum)
	}

	return msg
}

func body(doc []byte) section {
	return section{kind: 0, docs: [][]byte{doc}}
}

var simple = bson.D{{Key: "locale", Value: "simple"}}

// findCmd is a find command as Trino sends it, with the given collation (nil: none).
func findCmd(collation any) bson.D {
	d := bson.D{
		{Key: "find", Value: "events"},
		{Key: "filter", Value: bson.D{{Key: "level", Value: "error"}}},
		{Key: "projection", Value: bson.D{{Key: "msg", Value: int32(1)}}},
	}

	if collation != nil {
		d = append(d, bson.E{Key: "collation", Value: collation})
	}

	return append(d,
		bson.E{Key: "limit", Value: int64(10)},
		bson.E{Key: "$db", Value: "logbench"},
	)
}

// assertUnchanged checks that msg passes through byte-identical.
func assertUnchanged(t *testing.T, msg []byte) {
	t.Helper()

	orig := bytes.Clone(msg)

	out, changed := rewriteMessage(msg)
	if changed {
		t.Fatal("message was changed")
	}

	if !bytes.Equal(out, orig) || !bytes.Equal(msg, orig) {
		t.Fatal("message bytes differ")
	}
}

func TestSimpleCollationDropped(t *testing.T) {
	msg := buildMsg(0, body(marshal(t, findCmd(simple))))
	orig := bytes.Clone(msg)

	out, changed := rewriteMessage(msg)
	if !changed {
		t.Fatal("expected the message to be rewritten")
	}

	if !bytes.Equal(msg, orig) {
		t.Fatal("input slice was modified")
	}

	// expected: the very same command without collation, element order preserved
	want := buildMsg(0, body(marshal(t, findCmd(nil))))
	if !bytes.Equal(out, want) {
		t.Fatalf("unexpected rewrite:\n got %x\nwant %x", out, want)
	}

	if got := int(binary.LittleEndian.Uint32(out[0:4])); got != len(out) {
		t.Fatalf("messageLength %d != %d", got, len(out))
	}

	if len(out) >= len(msg) {
		t.Fatalf("rewritten message is not shorter: %d >= %d", len(out), len(msg))
	}

	// header fields other than the length are kept
	if !bytes.Equal(out[4:20], msg[4:20]) {
		t.Fatalf("requestID/responseTo/opCode/flags changed: %x -> %x", msg[4:20], out[4:20])
	}
}

func TestSimpleCollationDroppedFromOtherCommands(t *testing.T) {
	for name, cmd := range map[string]bson.D{
		"aggregate": {
			{Key: "aggregate", Value: "events"},
			{Key: "pipeline", Value: bson.A{bson.D{{Key: "$match", Value: bson.D{}}}}},
			{Key: "collation", Value: simple},
			{Key: "cursor", Value: bson.D{}},
			{Key: "$db", Value: "logbench"},
		},
		"count first key": {
			{Key: "collation", Value: simple},
			{Key: "count", Value: "events"},
			{Key: "$db", Value: "logbench"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			out, changed := rewriteMessage(buildMsg(0, body(marshal(t, cmd))))
			if !changed {
				t.Fatal("expected the message to be rewritten")
			}

			var want bson.D

			for _, e := range cmd {
				if e.Key != "collation" {
					want = append(want, e)
				}
			}

			if !bytes.Equal(out, buildMsg(0, body(marshal(t, want)))) {
				t.Fatal("unexpected rewrite")
			}
		})
	}
}

func TestOtherCollationsKept(t *testing.T) {
	for name, coll := range map[string]any{
		"en":                bson.D{{Key: "locale", Value: "en"}},
		"simple strength 2": bson.D{{Key: "locale", Value: "simple"}, {Key: "strength", Value: int32(2)}},
		"strength simple":   bson.D{{Key: "strength", Value: int32(1)}, {Key: "locale", Value: "simple"}},
		"SIMPLE":            bson.D{{Key: "locale", Value: "SIMPLE"}},
		"simple with space": bson.D{{Key: "locale", Value: "simple "}},
		"empty document":    bson.D{},
		"locale not string": bson.D{{Key: "locale", Value: int32(1)}},
		"other key":         bson.D{{Key: "Locale", Value: "simple"}},
		"string":            "simple",
		"null":              primitive.Null{},
		"array":             bson.A{bson.D{{Key: "locale", Value: "simple"}}},
	} {
		t.Run(name, func(t *testing.T) {
			assertUnchanged(t, buildMsg(0, body(marshal(t, findCmd(coll)))))
		})
	}
}

func TestDuplicateCollationFields(t *testing.T) {
	// both simple: both removed
	cmd := bson.D{
		{Key: "find", Value: "events"},
		{Key: "collation", Value: simple},
		{Key: "collation", Value: simple},
		{Key: "$db", Value: "logbench"},
	}

	out, changed := rewriteMessage(buildMsg(0, body(marshal(t, cmd))))
	if !changed {
		t.Fatal("expected the message to be rewritten")
	}

	want := bson.D{{Key: "find", Value: "events"}, {Key: "$db", Value: "logbench"}}
	if !bytes.Equal(out, buildMsg(0, body(marshal(t, want)))) {
		t.Fatal("unexpected rewrite")
	}

	// one of them is not simple: leave everything for FerretDB to reject
	cmd[2].Value = bson.D{{Key: "locale", Value: "en"}}
	assertUnchanged(t, buildMsg(0, body(marshal(t, cmd))))
}

func TestNoCollationByteIdentical(t *testing.T) {
	for name, cmd := range map[string]bson.D{
		"find":  findCmd(nil),
		"hello": {{Key: "hello", Value: int32(1)}, {Key: "$db", Value: "admin"}},
		"nested collation in pipeline": {
			{Key: "aggregate", Value: "events"},
			{Key: "pipeline", Value: bson.A{bson.D{{Key: "$match", Value: bson.D{{Key: "collation", Value: simple}}}}}},
			{Key: "$db", Value: "logbench"},
		},
		"collation inside inline documents": {
			{Key: "insert", Value: "events"},
			{Key: "documents", Value: bson.A{bson.D{{Key: "collation", Value: simple}}}},
			{Key: "$db", Value: "logbench"},
		},
		"createIndexes with index collation": {
			{Key: "createIndexes", Value: "events"},
			{Key: "indexes", Value: bson.A{bson.D{
				{Key: "key", Value: bson.D{{Key: "a", Value: int32(1)}}},
				{Key: "name", Value: "a_1"},
				{Key: "collation", Value: simple},
			}}},
			{Key: "$db", Value: "logbench"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			msg := buildMsg(0, body(marshal(t, cmd)))

			out, changed := rewriteMessage(msg)
			if changed || &out[0] != &msg[0] || !bytes.Equal(out, msg) {
				t.Fatal("message without top-level collation must be passed through as is")
			}
		})
	}
}

func TestChecksumFlag(t *testing.T) {
	t.Run("dropped when rewriting", func(t *testing.T) {
		flags := flagChecksumPresent | flagExhaustAllowed
		msg := buildMsg(flags, body(marshal(t, findCmd(simple))))

		out, changed := rewriteMessage(msg)
		if !changed {
			t.Fatal("expected the message to be rewritten")
		}

		// same as a message built without checksum, other flag bits kept
		want := buildMsg(flagExhaustAllowed, body(marshal(t, findCmd(nil))))
		if !bytes.Equal(out, want) {
			t.Fatalf("unexpected rewrite:\n got %x\nwant %x", out, want)
		}

		if got := binary.LittleEndian.Uint32(out[16:20]); got != flagExhaustAllowed {
			t.Fatalf("flagBits = %#x, want %#x", got, flagExhaustAllowed)
		}
	})

	t.Run("kept when not rewriting", func(t *testing.T) {
		for _, coll := range []any{nil, bson.D{{Key: "locale", Value: "en"}}} {
			assertUnchanged(t, buildMsg(flagChecksumPresent, body(marshal(t, findCmd(coll)))))
		}
	})

	t.Run("moreToCome kept", func(t *testing.T) {
		msg := buildMsg(flagChecksumPresent|flagMoreToCome, body(marshal(t, findCmd(simple))))

		out, changed := rewriteMessage(msg)
		if !changed {
			t.Fatal("expected the message to be rewritten")
		}

		if got := binary.LittleEndian.Uint32(out[16:20]); got != flagMoreToCome {
			t.Fatalf("flagBits = %#x, want %#x", got, flagMoreToCome)
		}
	})

	t.Run("checksum bit set but message too short", func(t *testing.T) {
		msg := buildMsg(0, body(marshal(t, bson.D{})))
		binary.LittleEndian.PutUint32(msg[16:20], flagChecksumPresent)
		assertUnchanged(t, msg)
	})
}

func TestMultiSectionPreserved(t *testing.T) {
	docs := [][]byte{
		marshal(t, bson.D{{Key: "_id", Value: int32(1)}, {Key: "msg", Value: "a"}}),
		// a "collation" field inside a document being inserted is data, never touched
		marshal(t, bson.D{{Key: "_id", Value: int32(2)}, {Key: "collation", Value: simple}}),
	}

	cmdWith := bson.D{
		{Key: "insert", Value: "events"},
		{Key: "ordered", Value: false},
		{Key: "collation", Value: simple},
		{Key: "$db", Value: "logbench"},
	}
	cmdWithout := bson.D{cmdWith[0], cmdWith[1], cmdWith[3]}

	seqA := section{kind: 1, id: "documents", docs: docs}
	seqB := section{kind: 1, id: "updates", docs: docs[:1]}

	for name, tc := range map[string]struct {
		flags uint32
		in    []section
		want  []section
	}{
		"body first": {
			in:   []section{body(marshal(t, cmdWith)), seqA},
			want: []section{body(marshal(t, cmdWithout)), seqA},
		},
		"sequence first": {
			in:   []section{seqA, body(marshal(t, cmdWith))},
			want: []section{seqA, body(marshal(t, cmdWithout))},
		},
		"two sequences around body with checksum": {
			flags: flagChecksumPresent,
			in:    []section{seqA, body(marshal(t, cmdWith)), seqB},
			want:  []section{seqA, body(marshal(t, cmdWithout)), seqB},
		},
	} {
		t.Run(name, func(t *testing.T) {
			out, changed := rewriteMessage(buildMsg(tc.flags, tc.in...))
			if !changed {
				t.Fatal("expected the message to be rewritten")
			}

			want := buildMsg(0, tc.want...)
			if !bytes.Equal(out, want) {
				t.Fatalf("unexpected rewrite:\n got %x\nwant %x", out, want)
			}
		})
	}

	t.Run("no collation: byte-identical", func(t *testing.T) {
		assertUnchanged(t, buildMsg(0, body(marshal(t, cmdWithout)), seqA))
		assertUnchanged(t, buildMsg(flagChecksumPresent, seqA, body(marshal(t, cmdWithout)), seqB))
	})

	t.Run("empty sequence", func(t *testing.T) {
		out, changed := rewriteMessage(buildMsg(0, body(marshal(t, cmdWith)), section{kind: 1, id: "documents"}))
		if !changed || !bytes.Equal(out, buildMsg(0, body(marshal(t, cmdWithout)), section{kind: 1, id: "documents"})) {
			t.Fatal("unexpected rewrite")
		}
	})
}

func TestOtherOpcodesUntouched(t *testing.T) {
	doc := marshal(t, findCmd(simple))

	// OP_QUERY: flags, fullCollectionName, numberToSkip, numberToReturn, query
	query := make([]byte, headerLen)
	binary.LittleEndian.PutUint32(query[12:16], 2004)
	query = binary.LittleEndian.AppendUint32(query, 0)
	query = append(query, "logbench.$cmd\x00"...)
	query = binary.LittleEndian.AppendUint32(query, 0)
	query = binary.LittleEndian.AppendUint32(query, 1)
	query = append(query, doc...)
	binary.LittleEndian.PutUint32(query[0:4], uint32(len(query)))
	assertUnchanged(t, query)

	// OP_COMPRESSED wrapping an OP_MSG with "noop" compressor: still untouched
	inner := buildMsg(0, body(doc))
	comp := make([]byte, headerLen)
	binary.LittleEndian.PutUint32(comp[12:16], 2012)
	comp = binary.LittleEndian.AppendUint32(comp, opCodeMsg)
	comp = binary.LittleEndian.AppendUint32(comp, uint32(len(inner)-headerLen))
	comp = append(comp, 0) // compressorId: noop
	comp = append(comp, inner[headerLen:]...)
	binary.LittleEndian.PutUint32(comp[0:4], uint32(len(comp)))
	assertUnchanged(t, comp)
}

func TestMalformedUntouched(t *testing.T) {
	good := buildMsg(0, body(marshal(t, findCmd(simple))))

	mutate := func(f func(m []byte) []byte) []byte {
		return f(bytes.Clone(good))
	}

	for name, msg := range map[string][]byte{
		"empty":           {},
		"header only":     good[:headerLen],
		"length mismatch": mutate(func(m []byte) []byte { return m[:len(m)-1] }),
		"section kind 2": mutate(func(m []byte) []byte {
			m[headerLen+4] = 2
			return m
		}),
		"body length too large": mutate(func(m []byte) []byte {
			binary.LittleEndian.PutUint32(m[headerLen+5:], uint32(len(m)))
			return m
		}),
		"body length too small": mutate(func(m []byte) []byte {
			binary.LittleEndian.PutUint32(m[headerLen+5:], 4)
			return m
		}),
		"two bodies": buildMsg(0, body(marshal(t, findCmd(simple))), body(marshal(t, findCmd(simple)))),
		"no body":    buildMsg(0, section{kind: 1, id: "documents", docs: [][]byte{marshal(t, findCmd(simple))}}),
		"truncated sequence": func() []byte {
			m := buildMsg(0, body(marshal(t, findCmd(simple))), section{kind: 1, id: "documents"})
			binary.LittleEndian.PutUint32(m[len(m)-len("documents")-1-4:], 100)
			return m
		}(),
		"invalid BSON inside body": mutate(func(m []byte) []byte {
			m[len(m)-1] = 1 // document terminator
			return m
		}),
	} {
		t.Run(name, func(t *testing.T) {
			assertUnchanged(t, msg)
		})
	}
}

func TestForwardClientMessages(t *testing.T) {
	msgs := [][]byte{
		buildMsg(0, body(marshal(t, bson.D{{Key: "hello", Value: int32(1)}, {Key: "$db", Value: "admin"}}))),
		buildMsg(flagChecksumPresent, body(marshal(t, findCmd(simple)))),
		buildMsg(0, body(marshal(t, findCmd(bson.D{{Key: "locale", Value: "en"}})))),
		buildMsg(0, body(marshal(t, bson.D{{Key: "insert", Value: "events"}, {Key: "$db", Value: "x"}})),
			section{kind: 1, id: "documents", docs: [][]byte{marshal(t, bson.D{{Key: "_id", Value: int32(1)}})}}),
	}

	var in, want bytes.Buffer

	for _, m := range msgs {
		in.Write(m)

		out, _ := rewriteMessage(m)
		want.Write(out)
	}

	p := newProxy(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)

	var got bytes.Buffer

	// one byte at a time: messages split across reads must be reassembled
	err := p.forwardClientMessages(&got, iotest.OneByteReader(bytes.NewReader(in.Bytes())), io.Discard, new(moreToComeSet))
	if err != io.EOF {
		t.Fatalf("expected io.EOF at the end, got %v", err)
	}

	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatal("forwarded stream differs")
	}

	if bytes.Equal(got.Bytes(), in.Bytes()) {
		t.Fatal("expected the simple collation to be dropped from the stream")
	}
}

func TestReadMessageRejectsBadLength(t *testing.T) {
	for _, n := range []uint32{0, 15, maxMessageLen + 1, 0xffffffff} {
		hdr := make([]byte, headerLen)
		binary.LittleEndian.PutUint32(hdr, n)

		if _, err := readMessage(bytes.NewReader(hdr)); err == nil {
			t.Fatalf("length %d: expected an error", n)
		}
	}
}

func FuzzRewriteMessage(f *testing.F) {
	doc := func(d bson.D) []byte {
		b, err := bson.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}

		return b
	}

	f.Add(buildMsg(0, body(doc(findCmd(simple)))))
	f.Add(buildMsg(flagChecksumPresent, body(doc(findCmd(simple)))))
	f.Add(buildMsg(0, body(doc(findCmd(bson.D{{Key: "locale", Value: "en"}})))))
	f.Add(buildMsg(0, section{kind: 1, id: "documents", docs: [][]byte{doc(findCmd(nil))}}, body(doc(findCmd(simple)))))

	f.Fuzz(func(t *testing.T, msg []byte) {
		orig := bytes.Clone(msg)

		out, changed := rewriteMessage(msg)

		if !bytes.Equal(msg, orig) {
			t.Fatal("input modified")
		}

		if !changed {
			if !bytes.Equal(out, msg) {
				t.Fatal("unchanged message differs")
			}

			return
		}

		if int(binary.LittleEndian.Uint32(out[0:4])) != len(out) || len(out) >= len(msg) {
			t.Fatalf("bad length in rewritten message")
		}

		if binary.LittleEndian.Uint32(out[16:20])&flagChecksumPresent != 0 {
			t.Fatal("checksum flag still set")
		}

		if _, again := rewriteMessage(out); again {
			t.Fatal("rewrite is not idempotent")
		}
	})
}

// withIDs sets requestID and responseTo of msg.
func withIDs(msg []byte, requestID, responseTo int32) []byte {
	binary.LittleEndian.PutUint32(msg[4:8], uint32(requestID))
	binary.LittleEndian.PutUint32(msg[8:12], uint32(responseTo))

	return msg
}

func TestRepliesToMoreToComeDropped(t *testing.T) {
	insert := marshal(t, bson.D{{Key: "insert", Value: "events"}, {Key: "$db", Value: "x"}})
	find := marshal(t, findCmd(nil))
	reply := marshal(t, bson.D{{Key: "ok", Value: 1.0}})

	// client: acknowledged find (10), w=0 insert (11, moreToCome), find (12)
	var in bytes.Buffer

	in.Write(withIDs(buildMsg(0, body(find)), 10, 0))
	in.Write(withIDs(buildMsg(flagMoreToCome, body(insert)), 11, 0))
	in.Write(withIDs(buildMsg(flagChecksumPresent|flagMoreToCome, body(insert)), 13, 0))
	in.Write(withIDs(buildMsg(0, body(find)), 12, 0))

	p := newProxy(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)

	var pending moreToComeSet

	sent := bytes.Clone(in.Bytes())

	var toServer bytes.Buffer
	if err := p.forwardClientMessages(&toServer, &in, io.Discard, &pending); err != io.EOF {
		t.Fatal(err)
	}

	if !bytes.Equal(toServer.Bytes(), sent) {
		t.Fatal("requests must be forwarded unchanged")
	}

	// FerretDB replies to every request, including the moreToCome ones
	r10 := withIDs(buildMsg(0, body(reply)), 1, 10)
	r11 := withIDs(buildMsg(0, body(reply)), 2, 11)
	r13 := withIDs(buildMsg(0, body(reply)), 3, 13)
	r12 := withIDs(buildMsg(0, body(reply)), 4, 12)
	r11again := withIDs(buildMsg(0, body(reply)), 5, 11) // not pending any more: forwarded

	var fromServer bytes.Buffer
	for _, m := range [][]byte{r10, r11, r13, r12, r11again} {
		fromServer.Write(m)
	}

	var toClient bytes.Buffer
	if err := p.forwardServerMessages(&toClient, iotest.OneByteReader(&fromServer), &pending); err != io.EOF {
		t.Fatal(err)
	}

	want := slices.Concat(r10, r12, r11again)
	if !bytes.Equal(toClient.Bytes(), want) {
		t.Fatalf("unexpected replies forwarded to the client")
	}

	if len(pending.ids) != 0 {
		t.Fatalf("pending not emptied: %v", pending.ids)
	}
}

func TestLocalReplyAnswersOnlyPlainNameOnlyListDatabases(t *testing.T) {
	p := newProxy(slog.New(slog.NewTextHandler(io.Discard, nil)), nil,
		func() ([]string, error) { return []string{"a", "logs"}, nil })

	cmd := func(flags uint32, d bson.D) []byte {
		body, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}

		msg := newOpMsg(77, flags, body)

		return msg
	}

	plain := bson.D{{Key: "listDatabases", Value: 1}, {Key: "nameOnly", Value: true},
		{Key: "authorizedDatabases", Value: true}, {Key: "$db", Value: "admin"}}

	answer := p.localReply(cmd(0, plain))
	if answer == nil {
		t.Fatal("plain listDatabases {nameOnly: true} was not answered")
	}

	if got := int32(binary.LittleEndian.Uint32(answer[8:12])); got != 77 {
		t.Fatalf("responseTo = %d, want 77", got)
	}

	if ok, err := replyOK(answer); !ok || err != nil {
		t.Fatalf("reply not ok: %v", err)
	}

	var reply struct {
		Databases []struct{ Name string } `bson:"databases"`
	}

	if err := bson.Unmarshal(answer[headerLen+4+1:], &reply); err != nil {
		t.Fatal(err)
	}

	if len(reply.Databases) != 2 || reply.Databases[0].Name != "a" || reply.Databases[1].Name != "logs" {
		t.Fatalf("databases = %+v", reply.Databases)
	}

	forwarded := map[string][]byte{
		"nameOnly false":   cmd(0, bson.D{{Key: "listDatabases", Value: 1}, {Key: "nameOnly", Value: false}, {Key: "$db", Value: "admin"}}),
		"nameOnly missing": cmd(0, bson.D{{Key: "listDatabases", Value: 1}, {Key: "$db", Value: "admin"}}),
		"nameOnly 1":       cmd(0, bson.D{{Key: "listDatabases", Value: 1}, {Key: "nameOnly", Value: 1}, {Key: "$db", Value: "admin"}}),
		"with a filter": cmd(0, bson.D{{Key: "listDatabases", Value: 1}, {Key: "nameOnly", Value: true},
			{Key: "filter", Value: bson.D{{Key: "name", Value: "a"}}}, {Key: "$db", Value: "admin"}}),
		"not on admin":   cmd(0, bson.D{{Key: "listDatabases", Value: 1}, {Key: "nameOnly", Value: true}, {Key: "$db", Value: "logs"}}),
		"other command":  cmd(0, bson.D{{Key: "find", Value: "listDatabases"}, {Key: "nameOnly", Value: true}, {Key: "$db", Value: "admin"}}),
		"moreToCome":     cmd(flagMoreToCome, plain),
		"truncated body": cmd(0, plain)[:40],
	}

	for name, msg := range forwarded {
		if p.localReply(msg) != nil {
			t.Errorf("%s: answered locally, should go to FerretDB", name)
		}
	}

	failing := newProxy(slog.New(slog.NewTextHandler(io.Discard, nil)), nil,
		func() ([]string, error) { return nil, errors.New("no dir") })
	if failing.localReply(cmd(0, plain)) != nil {
		t.Error("answered although the names could not be read")
	}

	if newProxy(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil).localReply(cmd(0, plain)) != nil {
		t.Error("answered without a database lister")
	}
}
