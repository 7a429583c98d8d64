#!/usr/bin/env python3
"""Every file or folder README.md and docs/*.md name exists in the repository.

A name with a slash (`runtime/src/load/model_reader.cc`, `tests/fuzz/`) must exist as written,
from the repository root, or relative to a folder the same text names just before it (docs
write `runtime/src/run/`: `plan.cc`). A bare file name with a source extension (`plan.cc`) must
be the name of some file in the repository. Build outputs (build/..., dist/...), placeholders
(<target>, NAME, ...) and URLs are skipped. Prints each missing name with its file and line;
exit status 1 if any.
Usage: tools/check_doc_paths.py [REPO_ROOT]
"""
import os
import re
import subprocess
import sys

SOURCE_EXTENSIONS = ('.cc', '.h', '.hpp', '.c', '.py', '.sh', '.cmake', '.fbs', '.java', '.json', '.md', '.mm')
SKIP_PREFIXES = ('build', 'dist/', 'soak/', '/', 'http', 'out/', '~')
# Names that are not files of this repository, on purpose: the user's own files in examples,
# an installed prefix's layout, a phone's folders, another project's file, what a tool writes.
NOT_IN_REPOSITORY = {
    'model.json': "the user's config", 'rechub.json': "the user's config", 'my-bundle/': "the user's bundle",
    'app.c': "the user's program", 'bench.json': "ple-bench's output", 'CONFIG.json': "the user's config",
    'SIDECAR.json': "the user's ONNX sidecar", 'sidecar.json': "the user's ONNX sidecar",
    'include/ple/ple.h': 'an installed prefix', 'lib/libple.so.1.2.0': 'an installed prefix',
    'lib/libple.a': 'an installed prefix', 'lib/cmake/ple/': 'an installed prefix',
    'pleConfig.cmake': 'an installed prefix', 'pleConfigVersion.cmake': 'an installed prefix',
    'lib/pkgconfig/ple.pc': 'an installed prefix', 'bin/': 'an installed prefix',
    'lib/python3/dist-packages/ple/': 'an installed prefix', 'share/doc/ple/': 'an installed prefix',
    'data/local/tmp/': "an Android phone's folder", 'data/local/tmp/bench.json': "an Android phone's file",
    'gemm-microkernel-tester.h': "XNNPACK's file",
    'the_example_model_in_int8_on_its_labelled_held_out_data/utilisation-level-1.png': "the report checker's output",
}
# Written as placeholders or generated at build time.
PLACEHOLDER = re.compile(r'[<>*{}$]|\bNAME\b|\bTARGET\b|\.\.\.|XXXX')
TOKEN = re.compile(r'[A-Za-z0-9_.+-]+(?:/[A-Za-z0-9_.+-]*)+|[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*\.[A-Za-z]+')


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    tracked = subprocess.run(['git', 'ls-files'], cwd=root, capture_output=True, text=True, check=False).stdout.split()
    if not tracked:  # not a git checkout (a release archive): walk the tree
        tracked = [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs]
    files = set(tracked)
    folders = {os.path.dirname(f) for f in files}
    folders |= {'/'.join(f.split('/')[:i]) for f in files for i in range(1, f.count('/') + 1)}
    basenames = {os.path.basename(f) for f in files}

    def exists(path):
        path = path.rstrip('/')
        return path in files or path in folders

    documents = ['README.md'] + sorted('docs/' + f for f in os.listdir(os.path.join(root, 'docs')) if f.endswith('.md'))
    missing = []
    checked = 0
    for document in documents:
        with open(os.path.join(root, document), encoding='utf-8') as handle:
            lines = handle.read().split('\n')
        for number, line in enumerate(lines, 1):
            context = []  # folders named earlier on the line
            for match in TOKEN.finditer(line):
                token = match.group(0).strip('.,:;)(')
                if token in NOT_IN_REPOSITORY:
                    continue
                if not token or PLACEHOLDER.search(line[max(0, match.start() - 1):match.end() + 1]):
                    continue
                if token.startswith(SKIP_PREFIXES) or '://' in line[max(0, match.start() - 8):match.start()]:
                    continue
                if '/' in token:
                    if token.count('/') == 1 and token.endswith('/') is False and '.' not in token:
                        # a/b without an extension: a ratio, a pair of options, a tensor name
                        if not exists(token):
                            continue
                    checked += 1
                    here = os.path.dirname(document)
                    if here and exists(here + '/' + token):
                        continue
                    if exists(token) or any(exists(c + '/' + token) for c in context):
                        if exists(token) and not os.path.splitext(token)[1]:
                            context.append(token.rstrip('/'))
                        elif exists(token) and token.endswith('/'):
                            context.append(token.rstrip('/'))
                        continue
                    if not os.path.splitext(token)[1] and not token.endswith('/'):
                        continue  # words with slashes ("and/or", "f32/f16")
                    missing.append((document, number, token))
                elif token.endswith(SOURCE_EXTENSIONS):
                    checked += 1
                    if token in basenames or any(exists(c + '/' + token) for c in context):
                        continue
                    missing.append((document, number, token))
    for document, number, token in missing:
        print(f'{document}:{number}: {token} does not exist')
    print(f'{checked} paths named in README.md and docs/, {len(missing)} missing')
    return 1 if missing else 0


if __name__ == '__main__':
    sys.exit(main())
