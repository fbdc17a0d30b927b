package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
)

// MongoDB wire protocol constants.
// See https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/.
const (
	headerLen = 16 // messageLength, requestID, responseTo, opCode: 4 x int32

	opCodeMsg = 2013 // OP_MSG: the only opcode that is ever rewritten

	// OP_MSG flagBits bit 0: a CRC-32C checksum follows the last section.
	flagChecksumPresent = uint32(1) << 0

	// OP_MSG flagBits bit 1: the sender will not wait for a reply (unacknowledged writes).
	flagMoreToCome = uint32(1) << 1

	// maxMessageLen bounds a single client message the proxy is willing to buffer.
	// MongoDB's (and FerretDB's advertised) maxMessageSizeBytes is 48,000,000;
	// anything larger is a protocol error on the client's side.
	maxMessageLen = 64 << 20
)

// rewriteMessage rewrites one complete client->server wire message (header included).
//
// Only OP_MSG messages are ever changed: when the body section (kind 0) is a command
// document with a top-level `collation` field that is exactly `{locale: "simple"}`,
// that field is removed, the message length is fixed, and a checksum (if present)
// is dropped together with the checksumPresent flag bit, since it would no longer match.
//
// "simple" collation means plain binary comparison, which is what FerretDB does anyway,
// so dropping exactly that value does not change semantics. Any other collation
// (another locale, or "simple" with extra options) is left alone and FerretDB rejects it.
//
// Every other message (other opcodes such as OP_QUERY or OP_COMPRESSED, commands
// without collation, malformed messages) is returned as is: the same slice, unchanged,
// with changed == false; FerretDB is left to produce its own errors for malformed input.
func rewriteMessage(msg []byte) (out []byte, changed bool) {
	// header + flagBits + kind byte + smallest BSON document (5 bytes)
	if len(msg) < headerLen+4+1+5 {
		return msg, false
	}

	if int(int32(binary.LittleEndian.Uint32(msg[0:4]))) != len(msg) {
		return msg, false
	}

	if int32(binary.LittleEndian.Uint32(msg[12:16])) != opCodeMsg {
		return msg, false
	}

	flags := binary.LittleEndian.Uint32(msg[16:20])

	end := len(msg)
	if flags&flagChecksumPresent != 0 {
		end -= 4
	}

	// walk sections to find the single body section (kind 0);
	// kind 1 (document sequences) are skipped over and later copied byte for byte
	bodyStart, bodyEnd := -1, -1

	for pos := headerLen + 4; pos < end; {
		kind := msg[pos]
		pos++

		if end-pos < 4 {
			return msg, false
		}

		size := int(int32(binary.LittleEndian.Uint32(msg[pos : pos+4])))

		switch kind {
		case 0: // body: a single BSON document
			if bodyStart >= 0 || size < 5 || size > end-pos {
				return msg, false
			}

			bodyStart, bodyEnd = pos, pos+size

		case 1: // document sequence: int32 size (including itself), cstring identifier, documents
			if size < 4 || size > end-pos {
				return msg, false
			}

		default: // kind 2 is internal to MongoDB; anything else is invalid
			return msg, false
		}

		pos += size
	}

	if bodyStart < 0 {
		return msg, false
	}

	newBody, ok := dropSimpleCollation(bson.Raw(msg[bodyStart:bodyEnd]))
	if !ok {
		return msg, false
	}

	out = make([]byte, 0, len(msg))
	out = append(out, msg[:bodyStart]...)
	out = append(out, newBody...)
	out = append(out, msg[bodyEnd:end]...) // remaining sections; checksum (if any) is dropped

	binary.LittleEndian.PutUint32(out[0:4], uint32(len(out)))
	binary.LittleEndian.PutUint32(out[16:20], flags&^flagChecksumPresent)

	return out, true
}

// dropSimpleCollation returns doc without its top-level `collation` field(s)
// if (and only if) every such field is exactly `{locale: "simple"}`.
// All other elements are copied byte for byte, in their original order.
func dropSimpleCollation(doc bson.Raw) (bson.Raw, bool) {
	// cheap check first: most commands carry no collation at all
	if _, err := doc.LookupErr("collation"); err != nil {
		return doc, false
	}

	if err := doc.Validate(); err != nil {
		return doc, false
	}

	elems, err := doc.Elements()
	if err != nil {
		return doc, false
	}

	kept := make([]bson.RawElement, 0, len(elems))

	for _, e := range elems {
		if e.Key() != "collation" {
			kept = append(kept, e)
			continue
		}

		if !isSimpleCollation(e.Value()) {
			return doc, false
		}
	}

	if len(kept) == len(elems) {
		return doc, false
	}

	// int32 length + elements + trailing NUL
	size := 4 + 1
	for _, e := range kept {
		size += len(e)
	}

	res := make([]byte, 4, size)
	binary.LittleEndian.PutUint32(res, uint32(size))

	for _, e := range kept {
		res = append(res, e...)
	}

	res = append(res, 0)

	return bson.Raw(res), true
}

// isSimpleCollation reports whether v is exactly the document `{locale: "simple"}`.
func isSimpleCollation(v bson.RawValue) bool {
	if v.Type != bsontype.EmbeddedDocument {
		return false
	}

	d, ok := v.DocumentOK()
	if !ok {
		return false
	}

	elems, err := d.Elements()
	if err != nil || len(elems) != 1 || elems[0].Key() != "locale" {
		return false
	}

	s, ok := elems[0].Value().StringValueOK()

	return ok && s == "simple"
}

// errMessageTooLarge is returned by readMessage for an unreasonable message length.
var errMessageTooLarge = errors.New("invalid message length")

// readMessage reads one complete wire message (header included) from r.
func readMessage(r io.Reader) ([]byte, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}

	n := int(int32(binary.LittleEndian.Uint32(hdr[0:4])))
	if n < headerLen || n > maxMessageLen {
		return nil, fmt.Errorf("%w %d", errMessageTooLarge, n)
	}

	msg := make([]byte, n)
	copy(msg, hdr[:])

	if _, err := io.ReadFull(r, msg[headerLen:]); err != nil {
		return nil, err
	}

	return msg, nil
}

// proxy accepts client connections and forwards them to the backend (embedded FerretDB).
type proxy struct {
	l           *slog.Logger
	dialBackend func() (net.Conn, error)

	// databaseNames, when set, lets the proxy answer listDatabases {nameOnly: true} itself
	// (see localReply); nil forwards every command.
	databaseNames func() ([]string, error)
	replyID       atomic.Int32

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newProxy(l *slog.Logger, dialBackend func() (net.Conn, error), databaseNames func() ([]string, error)) *proxy {
	return &proxy{
		l:             l,
		dialBackend:   dialBackend,
		databaseNames: databaseNames,
		conns:         make(map[net.Conn]struct{}),
	}
}

// serve accepts connections until ln is closed.
func (p *proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}

			p.l.Warn("accept failed", slog.Any("error", err))

			continue
		}

		if !p.track(c) {
			_ = c.Close()
			return
		}

		p.wg.Add(1)

		go func() {
			defer p.wg.Done()
			defer p.untrack(c)

			p.handle(c)
		}()
	}
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.closed {
		return false
	}

	p.conns[c] = struct{}{}

	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()

	delete(p.conns, c)
}

// closeAll closes all client and backend connections and waits for their goroutines.
func (p *proxy) closeAll() {
	p.mu.Lock()
	p.closed = true

	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()

	p.wg.Wait()
}

// handle proxies one client connection.
func (p *proxy) handle(client net.Conn) {
	defer client.Close()

	remote := client.RemoteAddr().String()

	backend, err := p.dialBackend()
	if err != nil {
		p.l.Error("cannot connect to embedded FerretDB", slog.String("client", remote), slog.Any("error", err))
		return
	}

	if !p.track(backend) {
		_ = backend.Close()
		return
	}

	defer p.untrack(backend)
	defer backend.Close()

	p.l.Debug("client connected", slog.String("client", remote))

	var pending moreToComeSet

	// both directions write to the client: FerretDB's replies and the proxy's own (localReply)
	toClient := &lockedWriter{w: client}

	done := make(chan struct{})

	// server -> client: replies are forwarded untouched, except replies to moreToCome requests
	go func() {
		defer close(done)

		if err := p.forwardServerMessages(toClient, backend, &pending); err != nil &&
			!errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			p.l.Debug("server side ended", slog.String("client", remote), slog.Any("error", err))
		}

		_ = client.Close()
	}()

	// client -> server: message by message, rewriting where needed
	err = p.forwardClientMessages(backend, client, toClient, &pending)

	_ = backend.Close()
	<-done

	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		p.l.Debug("client connection ended", slog.String("client", remote), slog.Any("error", err))
		return
	}

	p.l.Debug("client disconnected", slog.String("client", remote))
}

// forwardClientMessages copies client messages to dst, rewriting them with rewriteMessage,
// and records the request IDs of OP_MSG requests that carry the moreToCome flag in pending.
// A command the proxy answers itself (localReply) is answered on reply and not forwarded.
func (p *proxy) forwardClientMessages(dst io.Writer, src io.Reader, reply io.Writer, pending *moreToComeSet) error {
	br := bufio.NewReaderSize(src, 64<<10)

	for {
		msg, err := readMessage(br)
		if err != nil {
			if errors.Is(err, errMessageTooLarge) {
				p.l.Warn("closing client connection", slog.Any("error", err))
			}

			return err
		}

		if answer := p.localReply(msg); answer != nil {
			if _, err = reply.Write(answer); err != nil {
				return err
			}

			continue
		}

		out, changed := rewriteMessage(msg)
		if changed {
			p.l.Debug("dropped collation {locale: \"simple\"} from command", slog.Int("before", len(msg)), slog.Int("after", len(out)))
		}

		// register before writing: the reply may arrive before Write returns
		if id, ok := moreToComeRequestID(out); ok {
			pending.add(id)
		}

		if _, err = dst.Write(out); err != nil {
			return err
		}
	}
}

// forwardServerMessages copies server replies to dst, message by message.
//
// FerretDB v1 ignores the OP_MSG moreToCome flag on requests (used by drivers for
// unacknowledged, w=0, writes) and replies anyway; the client does not read that reply, so the
// next command on the connection would get it instead of its own (pymongo: "ProtocolError:
// Got response id X but expected Y"). Replies to requests recorded in pending are dropped.
func (p *proxy) forwardServerMessages(dst io.Writer, src io.Reader, pending *moreToComeSet) error {
	br := bufio.NewReaderSize(src, 64<<10)

	for {
		msg, err := readMessage(br)
		if err != nil {
			return err
		}

		responseTo := int32(binary.LittleEndian.Uint32(msg[8:12]))
		if pending.take(responseTo) {
			p.l.Debug("dropped reply to a moreToCome request", slog.Int("response_to", int(responseTo)))
			continue
		}

		if _, err = dst.Write(msg); err != nil {
			return err
		}
	}
}

// moreToComeRequestID returns the request ID of an OP_MSG message with the moreToCome flag set
// (the sender expects no reply).
func moreToComeRequestID(msg []byte) (int32, bool) {
	if len(msg) < headerLen+4 || int32(binary.LittleEndian.Uint32(msg[12:16])) != opCodeMsg {
		return 0, false
	}

	if binary.LittleEndian.Uint32(msg[16:20])&flagMoreToCome == 0 {
		return 0, false
	}

	return int32(binary.LittleEndian.Uint32(msg[4:8])), true
}

// moreToComeSet holds the request IDs of one connection's requests that expect no reply.
type moreToComeSet struct {
	mu  sync.Mutex
	ids map[int32]struct{}
}

func (s *moreToComeSet) add(id int32) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.ids == nil {
		s.ids = make(map[int32]struct{})
	}

	s.ids[id] = struct{}{}
}

// take removes id and reports whether it was there.
func (s *moreToComeSet) take(id int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.ids[id]; !ok {
		return false
	}

	delete(s.ids, id)

	return true
}

// newOpMsg builds an OP_MSG message with a single body section.
func newOpMsg(requestID int32, flags uint32, body []byte) []byte {
	msg := make([]byte, headerLen+4, headerLen+4+1+len(body))
	binary.LittleEndian.PutUint32(msg[4:8], uint32(requestID))
	binary.LittleEndian.PutUint32(msg[12:16], opCodeMsg)
	binary.LittleEndian.PutUint32(msg[16:20], flags)
	msg = append(msg, 0)
	msg = append(msg, body...)
	binary.LittleEndian.PutUint32(msg[0:4], uint32(len(msg)))

	return msg
}

// pingMessage returns an OP_MSG `{ping: 1, $db: "admin"}` command.
func pingMessage() []byte {
	body, err := bson.Marshal(bson.D{{Key: "ping", Value: int32(1)}, {Key: "$db", Value: "admin"}})
	if err != nil {
		panic(err)
	}

	return newOpMsg(1, 0, body)
}

// replyOK extracts `ok` from an OP_MSG reply's body section.
func replyOK(reply []byte) (bool, error) {
	if len(reply) < headerLen+4+1+5 || int32(binary.LittleEndian.Uint32(reply[12:16])) != opCodeMsg {
		return false, errors.New("unexpected reply (not OP_MSG)")
	}

	if reply[headerLen+4] != 0 {
		return false, errors.New("unexpected reply (no body section)")
	}

	body := bson.Raw(reply[headerLen+4+1:])

	size := int(int32(binary.LittleEndian.Uint32(body[0:4])))
	if size < 5 || size > len(body) {
		return false, errors.New("unexpected reply (bad body length)")
	}

	body = body[:size]

	v, err := body.LookupErr("ok")
	if err != nil {
		return false, fmt.Errorf("unexpected reply: %w", err)
	}

	switch v.Type {
	case bsontype.Double:
		return v.Double() == 1, nil
	case bsontype.Int32:
		return v.Int32() == 1, nil
	case bsontype.Int64:
		return v.Int64() == 1, nil
	case bsontype.Boolean:
		return v.Boolean(), nil
	default:
		return false, fmt.Errorf("unexpected reply: ok has type %s", v.Type)
	}
}

// lockedWriter writes whole messages to one connection from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (lw *lockedWriter) Write(b []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()

	return lw.w.Write(b)
}

// localReply answers `listDatabases` with `nameOnly: true` without FerretDB, or returns nil.
//
// FerretDB v1 computes the size of every database for listDatabases even when only names are
// asked for; on SQLite that reads every page of every database file (3-4 s for a 1.4 GB
// database, measured), and Trino's MongoDB connector asks for the names while planning a query
// whenever its metadata cache has expired. With nameOnly the answer is just the names, which for
// the SQLite backend are its data files (`<name>.sqlite`, exactly how FerretDB itself finds them
// at start). Only the plain form is answered here: an OP_MSG without flags, one body section,
// `$db: "admin"`, `nameOnly: true` and no `filter`; anything else goes to FerretDB, as does the
// command when the names cannot be read.
func (p *proxy) localReply(msg []byte) []byte {
	if p.databaseNames == nil {
		return nil
	}

	body, ok := plainCommandBody(msg)
	if !ok || !isNameOnlyListDatabases(body) {
		return nil
	}

	names, err := p.databaseNames()
	if err != nil {
		p.l.Warn("cannot list databases; asking FerretDB", slog.Any("error", err))
		return nil
	}

	databases := make(bson.A, 0, len(names))
	for _, name := range names {
		databases = append(databases, bson.D{{Key: "name", Value: name}})
	}

	out, err := bson.Marshal(bson.D{{Key: "databases", Value: databases}, {Key: "ok", Value: float64(1)}})
	if err != nil {
		p.l.Warn("cannot encode listDatabases reply; asking FerretDB", slog.Any("error", err))
		return nil
	}

	answer := newOpMsg(p.replyID.Add(1), 0, out)
	copy(answer[8:12], msg[4:8]) // responseTo = the request's ID

	return answer
}

// plainCommandBody returns the body of an OP_MSG that has no flag bits and exactly one section,
// a body (kind 0) document that fills the message.
func plainCommandBody(msg []byte) (bson.Raw, bool) {
	if len(msg) < headerLen+4+1+5 || int32(binary.LittleEndian.Uint32(msg[12:16])) != opCodeMsg {
		return nil, false
	}

	if binary.LittleEndian.Uint32(msg[16:20]) != 0 || msg[headerLen+4] != 0 {
		return nil, false
	}

	body := bson.Raw(msg[headerLen+4+1:])
	if int(int32(binary.LittleEndian.Uint32(body[0:4]))) != len(body) || body.Validate() != nil {
		return nil, false
	}

	return body, true
}

// isNameOnlyListDatabases reports whether body is `{listDatabases: ..., nameOnly: true, $db: "admin"}`
// without a filter (other fields, such as lsid or authorizedDatabases, do not change the answer).
func isNameOnlyListDatabases(body bson.Raw) bool {
	elems, err := body.Elements()
	if err != nil || len(elems) == 0 || elems[0].Key() != "listDatabases" {
		return false
	}

	nameOnly, admin := false, false

	for _, e := range elems[1:] {
		switch e.Key() {
		case "nameOnly":
			v, ok := e.Value().BooleanOK()
			nameOnly = ok && v
		case "$db":
			v, ok := e.Value().StringValueOK()
			admin = ok && v == "admin"
		case "filter":
			return false
		}
	}

	return nameOnly && admin
}
