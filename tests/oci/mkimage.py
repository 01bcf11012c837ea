#!/usr/bin/env python3
"""mkimage.py -- write a one-layer OCI image layout (a directory) from files.

    mkimage.py OUTDIR TAG ENTRYPOINT SRC:DEST[:MODE] ... [--annotation K=V] [--env K=V] [--gzip]

The containerd test uses it for the native (delegated) image and for images kapsul cannot push
itself; it writes exactly what the OCI image spec asks: an uncompressed tar layer, a config with
rootfs.diff_ids, a manifest and index.json naming TAG (skopeo copies it from oci:OUTDIR:TAG).
"""
import gzip, hashlib, io, json, os, sys, tarfile


def blob(out, data):
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest


def main(argv):
    out, tag, entry = argv[0], argv[1], argv[2]
    files, annotations, env = [], {}, ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    compress = False
    rest = argv[3:]
    i = 0
    while i < len(rest):
        if rest[i] == "--annotation":
            k, v = rest[i + 1].split("=", 1)
            annotations[k] = v
            i += 2
        elif rest[i] == "--gzip":
            compress = True
            i += 1
        elif rest[i] == "--env":
            env.append(rest[i + 1])
            i += 2
        else:
            files.append(rest[i])
            i += 1
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for spec in files:
            parts = spec.split(":")
            src, dest = parts[0], parts[1].lstrip("/")
            mode = int(parts[2], 8) if len(parts) > 2 else 0o755
            with open(src, "rb") as f:
                data = f.read()
            info = tarfile.TarInfo(dest)
            info.size, info.mode, info.mtime = len(data), mode, 0
            tar.addfile(info, io.BytesIO(data))
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    if compress:
        layer_bytes = gzip.compress(layer_bytes, mtime=0)
    layer_digest = blob(out, layer_bytes)
    config = {
        "architecture": "amd64",  # the compat image runs where the node runs: ctr and CRI match linux/amd64
        "os": "linux",
        "config": {"Entrypoint": [entry], "Env": env},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_bytes = json.dumps(config).encode()
    config_digest = blob(out, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compress else ""),
                    "digest": layer_digest, "size": len(layer_bytes)}],
    }
    if annotations:
        manifest["annotations"] = annotations
    manifest_bytes = json.dumps(manifest).encode()
    manifest_digest = blob(out, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": manifest_digest, "size": len(manifest_bytes),
                       "annotations": {"org.opencontainers.image.ref.name": tag}}],
    }
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(sys.argv[1:])
