#!/usr/bin/env python3
"""Lists functions longer than a limit (default 80 lines) and source files longer than 600 in
runtime/, converter/, tools/, python/src and platforms/ (docs/architecture.md: one purpose per
file, phases that fit on a screen). A heuristic brace counter: it reads code as text (strings
and comments skipped), counts a brace block as a function when the text before it reads like a
signature, and lambdas and control blocks as part of their function.
Usage: tools/list_long_functions.py [LIMIT]
"""
import re
import subprocess
import sys

limit = int(sys.argv[1]) if len(sys.argv) > 1 else 80
files=[f for f in subprocess.check_output(['git','ls-files','runtime','converter','tools','python/src','platforms']).decode().split() if re.search(r'\.(cc|h|hpp|c|cpp)$',f)]
ctrl=re.compile(r'^\s*(if|for|while|switch|else|do|try|catch|return|case)\b')
for f in files:
    lines=open(f).read().split('\n')
    depth=0; stack=[]
    sig=''
    for i,l in enumerate(lines):
        code=re.sub(r'//.*','',l)
        code=re.sub(r'"(\\.|[^"\\])*"','""',code)
        code=re.sub(r"'(\\.|[^'\\])*'","''",code)
        s=code.strip()
        for ch in code:
            if ch=='{':
                # is this a function body start?
                isfunc = (')' in sig+s) and not ctrl.match(s) and '=' not in s.split('(')[0] and not re.search(r'\]\s*\(.*\)\s*(mutable\s*)?(->.*)?\{',s) and not s.startswith(('namespace','struct','class','enum','extern','union'))
                stack.append((i, isfunc and len([x for x in stack if x[2]])==0, isfunc))
                depth+=1
            elif ch=='}':
                depth-=1
                if stack:
                    st,top,isf=stack.pop()
                    if top and isf and i-st+1>limit:
                        print(f"{i-st+1:4d} {f}:{st+1} {lines[st].strip()[:80]}")
        if s.endswith((';','{','}')) or not s: sig=''
        else: sig+=s
for f in files:
    n = open(f).read().count('\n')
    if n > 600:
        print(f"{n:4d} {f}: file over 600 lines")
