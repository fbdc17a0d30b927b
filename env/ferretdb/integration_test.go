package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/writeconcern"
)

// TestEmbeddedFerretDBThroughProxy starts the real embedded FerretDB (SQLite in a temp dir)
// behind the proxy and talks to it with the Go driver.
func TestEmbeddedFerretDBThroughProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts embedded FerretDB")
	}

	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()

	srv, err := start(config{listenAddr: "127.0.0.1:0", sqliteDir: dir}, logger)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { _ = srv.Shutdown(10 * time.Second) }) // also on t.Fatal

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	client, err := mongo.Connect(ctx, options.Client().ApplyURI("mongodb://"+srv.Addr().String()+"/"))
	if err != nil {
		t.Fatal(err)
	}

	coll := client.Database("logbench").Collection("events")

	_, err = coll.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: 1}, {Key: "level", Value: "error"}},
		bson.D{{Key: "_id", Value: 2}, {Key: "level", Value: "info"}},
		bson.D{{Key: "_id", Value: 1}, {Key: "level", Value: "dup"}},
		bson.D{{Key: "_id", Value: 3}, {Key: "level", Value: "error"}},
	}, options.InsertMany().SetOrdered(false))

	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || len(bwe.WriteErrors) != 1 || bwe.WriteErrors[0].Code != 11000 {
		t.Fatalf("expected one duplicate key error, got %v", err)
	}

	find := func(coll *mongo.Collection, c *options.Collation) ([]int32, error) {
		opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
		if c != nil {
			opts.SetCollation(c)
		}

		cur, err := coll.Find(ctx, bson.D{{Key: "level", Value: "error"}}, opts)
		if err != nil {
			return nil, err
		}

		var docs []struct {
			ID int32 `bson:"_id"`
		}

		if err = cur.All(ctx, &docs); err != nil {
			return nil, err
		}

		ids := make([]int32, len(docs))
		for i, d := range docs {
			ids[i] = d.ID
		}

		return ids, nil
	}

	ids, err := find(coll, &options.Collation{Locale: "simple"})
	if err != nil {
		t.Fatalf("find with simple collation: %v", err)
	}

	if len(ids) != 2 || ids[0] != 1 || ids[1] != 3 {
		t.Fatalf("find with simple collation returned %v, want [1 3]", ids)
	}

	for _, c := range []*options.Collation{{Locale: "en"}, {Locale: "simple", Strength: 2}} {
		_, err = find(coll, c)

		var ce mongo.CommandError
		if !errors.As(err, &ce) || ce.Code != 238 { // NotImplemented
			t.Fatalf("find with collation %+v: expected NotImplemented, got %v", c, err)
		}
	}

	n, err := coll.CountDocuments(ctx, bson.D{}, options.Count().SetCollation(&options.Collation{Locale: "simple"}))
	if err != nil || n != 3 {
		t.Fatalf("count with simple collation: %d, %v", n, err)
	}

	// unacknowledged (w=0) writes use OP_MSG moreToCome; FerretDB replies anyway and the
	// proxy must swallow that reply, or the next command on the connection would read it
	w0 := client.Database("logbench").Collection("events", options.Collection().SetWriteConcern(writeconcern.Unacknowledged()))

	for i := int32(10); i < 13; i++ {
		if _, err = w0.InsertOne(ctx, bson.D{{Key: "_id", Value: i}, {Key: "level", Value: "error"}}); err != nil && !errors.Is(err, mongo.ErrUnacknowledgedWrite) {
			t.Fatalf("w=0 insert: %v", err)
		}
	}

	deadline := time.Now().Add(5 * time.Second)

	for {
		ids, err = find(coll, &options.Collation{Locale: "simple"})
		if err != nil {
			t.Fatalf("find after w=0 inserts: %v", err)
		}

		if len(ids) == 5 {
			break
		}

		if time.Now().After(deadline) {
			t.Fatalf("after w=0 inserts find returned %v, want [1 3 10 11 12]", ids)
		}

		time.Sleep(50 * time.Millisecond)
	}

	// listDatabases {nameOnly: true} is answered by the proxy from the SQLite files; the names
	// must be FerretDB's own (its full answer, with sizes, is still forwarded), also after a drop
	if err = client.Database("other").Collection("c").Drop(ctx); err != nil {
		t.Fatal(err)
	}

	if _, err = client.Database("other").Collection("c").InsertOne(ctx, bson.D{{Key: "x", Value: 1}}); err != nil {
		t.Fatal(err)
	}

	for _, dropOther := range []bool{false, true} {
		if dropOther {
			if err = client.Database("other").Drop(ctx); err != nil {
				t.Fatal(err)
			}
		}

		fast, err := client.ListDatabaseNames(ctx, bson.D{})
		if err != nil {
			t.Fatalf("listDatabases nameOnly: %v", err)
		}

		full, err := client.ListDatabases(ctx, bson.D{})
		if err != nil {
			t.Fatalf("listDatabases: %v", err)
		}

		var names []string
		for _, d := range full.Databases {
			names = append(names, d.Name)
		}

		if fmt.Sprint(fast) != fmt.Sprint(names) {
			t.Fatalf("proxy lists %v, FerretDB %v (after dropping other: %v)", fast, names, dropOther)
		}

		if want := map[bool]string{false: "[logbench other]", true: "[logbench]"}[dropOther]; fmt.Sprint(fast) != want {
			t.Fatalf("listDatabases nameOnly = %v, want %s", fast, want)
		}
	}

	filtered, err := client.ListDatabaseNames(ctx, bson.D{{Key: "name", Value: "nothing"}})
	if err != nil || len(filtered) != 0 {
		t.Fatalf("listDatabases with a filter (forwarded): %v, %v", filtered, err)
	}

	_ = client.Disconnect(ctx)

	if err = srv.Shutdown(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}
