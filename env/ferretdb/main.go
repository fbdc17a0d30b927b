// Command ferretdb-local runs an embedded FerretDB (v1, SQLite backend) behind a small
// MongoDB wire protocol proxy that drops `collation: {locale: "simple"}` from commands.
//
// FerretDB v1 rejects every command that carries a collation, while Trino's MongoDB
// connector sends `collation: {locale: "simple"}` with every find. "simple" collation
// is plain binary comparison, which is what FerretDB does anyway, so the proxy removes
// exactly that value (and nothing else) before the command reaches FerretDB. It also drops
// FerretDB's replies to moreToCome requests and answers listDatabases {nameOnly: true} itself.
//
// See README.md for flags and details.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

const progName = "ferretdb-local"

// config is the parsed command line.
type config struct {
	listenAddr   string
	internalAddr string
	sqliteDir    string
	logLevel     slog.Level
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet(progName, flag.ContinueOnError)

	var cfg config

	var logLevel string

	var showVersion bool

	fs.StringVar(&cfg.listenAddr, "listen-addr", "127.0.0.1:27017",
		"public TCP address that MongoDB clients connect to (served by the collation-rewriting proxy)")
	fs.StringVar(&cfg.internalAddr, "internal-addr", "",
		"address the embedded FerretDB listens on: unix:/path/to.sock or host:port (e.g. 127.0.0.1:0);\n"+
			"default: a Unix socket in a private temporary directory (removed on exit)")
	fs.StringVar(&cfg.sqliteDir, "sqlite-dir", "", "SQLite data directory (required; created if missing)")
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&showVersion, "version", false, "print versions and exit")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}

		return 2
	}

	if showVersion {
		fmt.Printf("%s (FerretDB %s, Go %s)\n", progName, ferretDBVersion(), goVersion())
		return 0
	}

	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected arguments: %s\n", progName, strings.Join(fs.Args(), " "))
		return 2
	}

	if err := cfg.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "%s: invalid --log-level %q (want debug, info, warn or error)\n", progName, logLevel)
		return 2
	}

	if cfg.sqliteDir == "" {
		fmt.Fprintf(os.Stderr, "%s: --sqlite-dir is required\n", progName)
		return 2
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := start(cfg, logger)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", progName, err)
		return 1
	}

	fmt.Printf("%s ready: mongodb://%s/ (FerretDB %s, SQLite dir %s, internal %s)\n",
		progName, srv.Addr(), ferretDBVersion(), srv.sqliteDir, srv.internalDesc)

	select {
	case <-ctx.Done():
		stop() // a second signal kills the process the default way
		logger.Info("signal received, shutting down")
	case err = <-srv.ferretDone:
		srv.ferretDone = nil
		logger.Error("embedded FerretDB stopped unexpectedly", slog.Any("error", err))
	}

	if shutdownErr := srv.Shutdown(10 * time.Second); shutdownErr != nil {
		fmt.Fprintf(os.Stderr, "%s: %s\n", progName, shutdownErr)
		return 1
	}

	if err != nil {
		return 1
	}

	fmt.Printf("%s stopped\n", progName)

	return 0
}

// server is a running embedded FerretDB with the proxy in front of it.
type server struct {
	l            *slog.Logger
	ln           net.Listener
	proxy        *proxy
	sqliteDir    string
	internalDesc string
	cleanup      func()

	cancelFerret context.CancelFunc
	ferretDone   chan error

	shutdownOnce sync.Once
	shutdownErr  error
}

// start binds the public listener, starts embedded FerretDB, checks that it answers,
// and starts accepting client connections.
func start(cfg config, logger *slog.Logger) (s *server, err error) {
	// bind the public address first so that a busy port fails fast, before touching data
	ln, err := net.Listen("tcp", cfg.listenAddr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on --listen-addr %s: %w", cfg.listenAddr, err)
	}

	var cleanups []func()

	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}

	defer func() {
		if err != nil {
			_ = ln.Close()
			cleanup()
		}
	}()

	dir, err := filepath.Abs(cfg.sqliteDir)
	if err != nil {
		return nil, fmt.Errorf("invalid --sqlite-dir: %w", err)
	}

	if err = os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create --sqlite-dir: %w", err)
	}

	listenerCfg, network, address, desc, err := internalListener(cfg.internalAddr, &cleanups)
	if err != nil {
		return nil, err
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  listenerCfg,
		Logger:    logger.With(slog.String("component", "ferretdb")),
		Handler:   "sqlite",
		SQLiteURL: sqliteURL(dir),
	})
	if err != nil {
		return nil, fmt.Errorf("cannot start embedded FerretDB: %w", err)
	}

	if network == "tcp" {
		// the port may have been 0: ask FerretDB which one it got
		u, uErr := url.Parse(f.MongoDBURI())
		if uErr != nil {
			return nil, fmt.Errorf("unexpected FerretDB URI %q: %w", f.MongoDBURI(), uErr)
		}

		address = u.Host
		desc = "tcp:" + address
	}

	ferretCtx, cancelFerret := context.WithCancel(context.Background())
	ferretDone := make(chan error, 1)

	go func() {
		ferretDone <- f.Run(ferretCtx)
	}()

	cleanups = append(cleanups, func() {
		cancelFerret()
		<-ferretDone
	})

	dial := func() (net.Conn, error) {
		return net.DialTimeout(network, address, 5*time.Second)
	}

	if err = ping(dial); err != nil {
		return nil, fmt.Errorf("embedded FerretDB does not answer on %s: %w", desc, err)
	}

	cleanups = cleanups[:len(cleanups)-1] // from here on Shutdown stops FerretDB

	s = &server{
		l:            logger,
		ln:           ln,
		proxy:        newProxy(logger.With(slog.String("component", "proxy")), dial, sqliteDatabaseNames(dir)),
		sqliteDir:    dir,
		internalDesc: desc,
		cleanup:      cleanup,
		cancelFerret: cancelFerret,
		ferretDone:   ferretDone,
	}

	go s.proxy.serve(ln)

	return s, nil
}

// Addr returns the public listener's address.
func (s *server) Addr() net.Addr {
	return s.ln.Addr()
}

// Shutdown stops accepting clients, closes proxied connections, stops FerretDB
// (which closes the SQLite databases) and removes the temporary socket directory.
// Calls after the first one return the first call's result.
func (s *server) Shutdown(timeout time.Duration) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(timeout) })

	return s.shutdownErr
}

func (s *server) shutdown(timeout time.Duration) error {
	_ = s.ln.Close()
	s.proxy.closeAll()

	s.cancelFerret()

	var err error

	if s.ferretDone != nil {
		select {
		case <-s.ferretDone:
		case <-time.After(timeout):
			err = fmt.Errorf("embedded FerretDB did not stop within %s", timeout)
		}
	}

	s.cleanup()

	return err
}

// internalListener builds FerretDB's listener configuration from --internal-addr.
func internalListener(addr string, cleanups *[]func()) (lc ferretdb.ListenerConfig, network, address, desc string, err error) {
	switch {
	case addr == "":
		tmp, mkErr := os.MkdirTemp("", progName+"-")
		if mkErr != nil {
			return lc, "", "", "", fmt.Errorf("cannot create directory for internal socket: %w", mkErr)
		}

		*cleanups = append(*cleanups, func() { _ = os.RemoveAll(tmp) })

		address = filepath.Join(tmp, "ferretdb.sock")
		lc.Unix = address

		return lc, "unix", address, "unix:" + address, nil

	case strings.HasPrefix(addr, "unix:"):
		address = strings.TrimPrefix(addr, "unix:")
		if address == "" {
			return lc, "", "", "", errors.New("--internal-addr unix: needs a socket path")
		}

		if _, statErr := os.Stat(address); statErr == nil {
			return lc, "", "", "", fmt.Errorf("--internal-addr socket %s already exists (another instance running?)", address)
		}

		*cleanups = append(*cleanups, func() { _ = os.Remove(address) })
		lc.Unix = address

		return lc, "unix", address, "unix:" + address, nil

	default:
		if _, _, err = net.SplitHostPort(addr); err != nil {
			return lc, "", "", "", fmt.Errorf("invalid --internal-addr %q: %w", addr, err)
		}

		lc.TCP = addr

		return lc, "tcp", addr, "tcp:" + addr, nil
	}
}

// sqliteURL returns FerretDB's SQLite URI for an absolute directory path.
func sqliteURL(dir string) string {
	u := url.URL{Scheme: "file", Opaque: (&url.URL{Path: dir + "/"}).EscapedPath()}
	return u.String()
}

// ping sends `{ping: 1}` over a fresh connection and checks for `ok: 1`.
func ping(dial func() (net.Conn, error)) error {
	c, err := dial()
	if err != nil {
		return err
	}
	defer c.Close()

	_ = c.SetDeadline(time.Now().Add(10 * time.Second))

	if _, err = c.Write(pingMessage()); err != nil {
		return err
	}

	reply, err := readMessage(c)
	if err != nil {
		return err
	}

	ok, err := replyOK(reply)
	if err != nil {
		return err
	}

	if !ok {
		return errors.New("ping did not return ok: 1")
	}

	return nil
}

// ferretDBVersion returns the version of the FerretDB module compiled into the binary.
func ferretDBVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}

	for _, d := range bi.Deps {
		if d.Path == "github.com/FerretDB/FerretDB" {
			if d.Replace != nil {
				return d.Replace.Version
			}

			return d.Version
		}
	}

	return "(unknown)"
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}

	return "(unknown)"
}

// sqliteDatabaseNames lists the databases of the SQLite backend: one `<name>.sqlite` file each,
// found the way FerretDB v1.24's pool finds them at start; sorted, as FerretDB lists them.
func sqliteDatabaseNames(dir string) func() ([]string, error) {
	return func() ([]string, error) {
		files, err := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		if err != nil {
			return nil, err
		}

		names := make([]string, 0, len(files))
		for _, f := range files {
			names = append(names, strings.TrimSuffix(filepath.Base(f), ".sqlite"))
		}

		sort.Strings(names)

		return names, nil
	}
}
