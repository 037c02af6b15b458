/**
 * Real filesystems for tests of storage faults: small tmpfs mounts (disk full, read-only
 * at start) and a loop-mounted ext4 image that the kernel turns read-only on demand.
 * Mounting needs root (the CI runs as root). Where it cannot be done, the tests that
 * need it are skipped with the reason in their name, except under CI, where they run and
 * fail: a CI that silently skips them would prove nothing.
 *
 * Every mount is unmounted after its test, even a failed one (onCleanup), and, as a last
 * resort, when the jest worker exits.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmdirSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { onCleanup } from './cleanup';
import { waitUntil } from './wait';

const mounted = new Set<string>();

function run(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function errorText(err: unknown): string {
  const e = err as { stderr?: Buffer; message?: string };
  return (e.stderr?.toString().trim() || e.message) ?? String(err);
}

/** Why tmpfs cannot be mounted here, or null when it can (probed once, by mounting one). */
function probe(): string | null {
  if (process.platform !== 'linux') return `tmpfs mounts need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'mounting needs root';
  const dir = mkdtempSync(join(tmpdir(), 'chat-tmpfs-probe-'));
  try {
    run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    run('umount', [dir]);
    return null;
  } catch (err) {
    return `mount -t tmpfs failed: ${errorText(err)}`;
  } finally {
    rmdirSync(dir);
  }
}

/** Why mounting is impossible here, or null. */
export const mountProblem = probe();

/** Why a loop-mounted ext4 cannot be made here, or null (the tools and the kernel's ext4 must be there). */
function probeExt4(): string | null {
  if (mountProblem !== null) return mountProblem;
  for (const tool of ['mkfs.ext4', 'losetup', 'findmnt']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} not found`;
    }
  }
  return existsSync('/sys/fs/ext4') ? null : 'the kernel has no ext4 (/sys/fs/ext4 missing)';
}

export const ext4Problem = probeExt4();

/**
 * `it` for a test that needs mounts (`ext4`: a loop-mounted ext4 too): skipped, with the
 * reason in its name, where that is impossible, unless process.env.CI is set: then it
 * runs and fails.
 */
export function itWithMounts(name: string, fn: () => Promise<void>, timeoutMs?: number, needs: 'tmpfs' | 'ext4' = 'tmpfs'): void {
  const problem = needs === 'ext4' ? ext4Problem : mountProblem;
  if (problem !== null && process.env.CI === undefined) {
    it.skip(`${name} [skipped: ${problem}]`, fn, timeoutMs);
    return;
  }
  it(name, fn, timeoutMs);
}

async function unmount(dir: string, removeDir = true): Promise<void> {
  if (!mounted.has(dir)) return;
  // The server using the mount is being killed at the same time (another cleanup of the
  // same phase): the mount is busy until it has exited.
  const unmounted = () => {
    try {
      run('umount', [dir]);
      return true;
    } catch {
      return false;
    }
  };
  await waitUntil(unmounted, `${dir} to be unmounted`).catch(() => run('umount', ['-l', dir]));
  mounted.delete(dir);
  if (removeDir) rmSync(dir, { recursive: true, force: true });
}

process.on('exit', () => {
  for (const dir of mounted) {
    try {
      run('umount', ['-l', dir]);
    } catch {
      // nothing more can be done on the way out
    }
  }
});

export interface Tmpfs {
  /** The mount point. */
  readonly dir: string;
  /** Writes a file until the filesystem is full (ENOSPC); returns its path. */
  fill(): string;
  /** `mount -o remount,ro|rw`. */
  remount(mode: 'ro' | 'rw'): void;
}

/** Mounts a tmpfs of `sizeBytes` on a new directory, unmounted after the test. Throws when it cannot. */
export function mountTmpfs(sizeBytes: number, options: { readOnly?: boolean } = {}): Tmpfs {
  if (mountProblem !== null) throw new Error(`cannot mount tmpfs: ${mountProblem}`);
  const dir = mkdtempSync(join(tmpdir(), 'chat-tmpfs-'));
  run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}${options.readOnly === true ? ',ro' : ''}`, 'tmpfs', dir]);
  mounted.add(dir);
  onCleanup('files', () => unmount(dir));
  return {
    dir,
    fill: () => fillUp(join(dir, 'filler')),
    remount: (mode) => run('mount', ['-o', `remount,${mode}`, dir]),
  };
}

export interface ErrorProneVolume {
  /** The mount point. */
  readonly dir: string;
  /**
   * Makes the filesystem fail the way a disk error does with `errors=remount-ro`: the
   * kernel turns it read-only under the processes using it (writes get EROFS). What was
   * written before is synced first: this simulates the store's fault, not lost caches.
   */
  fail(): void;
  /**
   * The operator's repair: the broken mount is detached (lazily: the server still holds
   * its files) and the same image mounted again, read-write, at the same place.
   */
  repair(): Promise<void>;
}

/**
 * An ext4 filesystem in an image file, loop-mounted with `errors=remount-ro`. Linux
 * refuses `mount -o remount,ro` of a filesystem with files open for writing (EBUSY), and a
 * database always has some: a volume that goes read-only under a running process is one
 * the kernel itself switched after an error, which `trigger_fs_error` produces on demand.
 */
export function mountErrorProneExt4(sizeBytes: number): ErrorProneVolume {
  if (ext4Problem !== null) throw new Error(`cannot mount ext4: ${ext4Problem}`);
  const base = mkdtempSync(join(tmpdir(), 'chat-ext4-'));
  const image = join(base, 'volume.img');
  const dir = join(base, 'mnt');
  mkdirSync(dir);
  closeSync(openSync(image, 'w'));
  truncateSync(image, sizeBytes);
  run('mkfs.ext4', ['-q', '-F', image]);
  // A loop device of its own for each mount: `mount -o loop` would reuse the one still
  // attached to the image, and with it the broken filesystem.
  const devices: string[] = [];
  const mountImage = () => {
    const device = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
    devices.push(device);
    run('mount', ['-o', 'errors=remount-ro', device, dir]);
  };
  mountImage();
  mounted.add(dir);
  onCleanup('files', async () => {
    await unmount(dir, false);
    // A device still used by a lazily detached mount is freed once its last user exits.
    for (const device of devices) {
      try {
        run('losetup', ['-d', device]);
      } catch {
        // already gone: detached by the kernel once its mount was
      }
    }
    rmSync(base, { recursive: true, force: true });
  });
  return {
    dir,
    fail: () => {
      const device = execFileSync('findmnt', ['-no', 'SOURCE', dir], { encoding: 'utf8' }).trim();
      run('sync', ['-f', dir]);
      writeFileSync(`/sys/fs/ext4/${basename(device)}/trigger_fs_error`, 'simulated disk error (test)');
    },
    repair: async () => {
      run('umount', ['-l', dir]);
      mounted.delete(dir);
      mountImage();
      mounted.add(dir);
    },
  };
}

/** Writes zeros to `path` until the disk is full; a short write or ENOSPC ends it. */
function fillUp(path: string): string {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) {
      const written = writeSync(fd, chunk);
      if (written < chunk.length) continue; // the next write fails with ENOSPC
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return path;
}
