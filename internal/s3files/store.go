// Package s3files is the FileStore on an S3-compatible bucket (AWS S3,
// MinIO, …), for replicas that do not share a disk: export files are
// uploaded as they are written and downloaded through presigned URLs.
package s3files

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/usagelog/usagelog/internal/usage"
)

// Config says where the bucket is.
type Config struct {
	Endpoint             string // host:port
	Bucket               string
	AccessKey, SecretKey string
	Secure               bool   // https
	Region               string // optional
	// LinkTTL is how long a presigned download link works; default 15 min.
	LinkTTL time.Duration
}

// ParseDSN reads s3://ACCESS:SECRET@host:port/bucket[?secure=false&region=R].
func ParseDSN(dsn string) (Config, error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.User == nil {
		return Config{}, fmt.Errorf("s3 files: want s3://ACCESS:SECRET@host:port/bucket, got %q", redact(dsn))
	}
	secret, _ := u.User.Password()
	c := Config{Endpoint: u.Host, Bucket: strings.Trim(u.Path, "/"), AccessKey: u.User.Username(), SecretKey: secret,
		Secure: u.Query().Get("secure") != "false", Region: u.Query().Get("region")}
	if c.Bucket == "" || strings.Contains(c.Bucket, "/") {
		return Config{}, fmt.Errorf("s3 files: %q: the path must be one bucket name", redact(dsn))
	}
	return c, nil
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.UserPassword(u.User.Username(), "xxx")
		return u.String()
	}
	return "(unparsable)"
}

// Store implements usage.FileStore.
type Store struct {
	c      *minio.Client
	bucket string
	ttl    time.Duration
}

var _ usage.FileStore = (*Store)(nil)

// Open connects and creates the bucket if it does not exist.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Secure: cfg.Secure, Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("s3 files: %w", err)
	}
	exists, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 files: bucket %s: %w", cfg.Bucket, err)
	}
	if !exists {
		if err := c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region}); err != nil {
			return nil, fmt.Errorf("s3 files: make bucket %s: %w", cfg.Bucket, err)
		}
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = 15 * time.Minute
	}
	return &Store{c: c, bucket: cfg.Bucket, ttl: cfg.LinkTTL}, nil
}

func checkPath(p string) error {
	if !usage.ValidFilePath(p) {
		return usage.Errorf(usage.EInvalid, "invalid file path %q", p)
	}
	return nil
}

// partSize is what an upload of unknown length buffers before sending a
// part: the memory an export costs, whatever its length.
const partSize = 16 << 20

// Create starts an upload that streams what is written; the object appears
// only when Commit completes it.
func (s *Store) Create(ctx context.Context, p string) (usage.FileWriter, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(ctx)
	u := &upload{pw: pw, done: make(chan error, 1), cancel: cancel}
	go func() {
		_, err := s.c.PutObject(ctx, s.bucket, p, pr, -1, minio.PutObjectOptions{PartSize: partSize})
		pr.CloseWithError(err)
		u.done <- err
	}()
	return u, nil
}

type upload struct {
	pw       *io.PipeWriter
	done     chan error
	cancel   context.CancelFunc
	finished bool
	err      error
}

func (u *upload) Write(b []byte) (int, error) { return u.pw.Write(b) }

var errAborted = errors.New("upload aborted")

func (u *upload) wait() error {
	if !u.finished {
		u.err = <-u.done
		u.finished = true
		u.cancel()
	}
	return u.err
}

// Commit completes the upload.
func (u *upload) Commit() error {
	u.pw.Close()
	if err := u.wait(); err != nil {
		return fmt.Errorf("s3 files: upload: %w", err)
	}
	return nil
}

// Abort stops the upload; S3 keeps nothing of it.
func (u *upload) Abort() error {
	if u.finished {
		return nil
	}
	u.pw.CloseWithError(errAborted)
	u.cancel()
	u.wait()
	return nil
}

type object struct {
	*minio.Object
	info minio.ObjectInfo
}

func (o object) Size() int64        { return o.info.Size }
func (o object) ModTime() time.Time { return o.info.LastModified }

// Open opens a committed object for reading; it seeks, so downloads can
// serve ranges.
func (s *Store) Open(ctx context.Context, p string) (usage.StoredFile, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	obj, err := s.c.GetObject(ctx, s.bucket, p, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("s3 files: open: %w", err)
	}
	info, err := obj.Stat()
	if err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, usage.Errorf(usage.ENotFound, "file %q not found", p)
		}
		return nil, fmt.Errorf("s3 files: open: %w", err)
	}
	return object{obj, info}, nil
}

// Remove deletes an object; no error when there is none.
func (s *Store) Remove(ctx context.Context, p string) error {
	if err := checkPath(p); err != nil {
		return err
	}
	if err := s.c.RemoveObject(ctx, s.bucket, p, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("s3 files: remove: %w", err)
	}
	return nil
}

// RemovePartial aborts the incomplete uploads of p: the parts a process
// that died mid-write left in the bucket.
func (s *Store) RemovePartial(ctx context.Context, p string) error {
	if err := checkPath(p); err != nil {
		return err
	}
	if err := s.c.RemoveIncompleteUpload(ctx, s.bucket, p); err != nil {
		return fmt.Errorf("s3 files: remove partial: %w", err)
	}
	return nil
}

// Sweep deletes objects last written before cutoff, except under
// usage.ScheduledDir.
func (s *Store) Sweep(ctx context.Context, cutoff time.Time) (int, error) {
	n := 0
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			return n, fmt.Errorf("s3 files: sweep: %w", obj.Err)
		}
		if strings.HasPrefix(obj.Key, usage.ScheduledDir+"/") || !obj.LastModified.Before(cutoff) {
			continue
		}
		if err := s.c.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{}); err != nil {
			return n, fmt.Errorf("s3 files: sweep: %w", err)
		}
		n++
	}
	return n, nil
}

// URL is a presigned GET of the object, valid for the link TTL, that
// downloads it under its base name. now is unused: S3 signs with the
// current time.
func (s *Store) URL(p string, now time.Time) string {
	name := p[strings.LastIndex(p, "/")+1:]
	params := url.Values{"response-content-disposition": {`attachment; filename="` + strings.ReplaceAll(name, `"`, "") + `"`}}
	u, err := s.c.PresignedGetObject(context.Background(), s.bucket, p, s.ttl, params)
	if err != nil {
		return ""
	}
	return u.String()
}
