"""Why each common pylint message matters, how to fix it, and a short bad/good example.

Written for this service's users (students pushing Python code), for the messages they meet
most; every other message gets the advice of its category (`advice()`). pylint's own
description of the message comes from `core.pylint_messages`, not from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Advice:
    """What the help page says beyond pylint's own description."""
    why: str
    fix: str
    bad: str = ""
    good: str = ""


_DOCSTRING_WHY = ("A docstring is the first thing a reader (and `help()`, and your editor) "
                  "shows: it says what the code is for without making anyone read the body.")

EXAMPLES: dict[str, Advice] = {
    "unused-import": Advice(
        why="An import nobody uses makes the reader look for where it is needed, slows the "
            "start of the program, and often hides a typo or a half-finished change.",
        fix="Delete the import, or use what it imports. If it is there on purpose (to "
            "re-export a name), list the name in `__all__`.",
        bad="import os\nimport sys\n\nprint(sys.argv)\n",
        good="import sys\n\nprint(sys.argv)\n"),
    "undefined-variable": Advice(
        why="The name does not exist where it is used: the line raises NameError when it runs. "
            "Usually a typo, a variable defined in another function, or a missing import.",
        fix="Check the spelling against where the name is defined; import it, or define it "
            "before this line, in a scope this code can see.",
        bad="def area(radius):\n    return pi * radius ** 2\n",
        good="from math import pi\n\n\ndef area(radius):\n    return pi * radius ** 2\n"),
    "missing-module-docstring": Advice(
        why=_DOCSTRING_WHY,
        fix="Start the file with a one-line string that says what the module holds.",
        bad="import math\n",
        good='"""Geometry helpers: areas and perimeters of simple shapes."""\nimport math\n'),
    "missing-function-docstring": Advice(
        why=_DOCSTRING_WHY,
        fix="Put a string right under the `def` line that says what the function returns or "
            "does (not how).",
        bad="def mean(values):\n    return sum(values) / len(values)\n",
        good='def mean(values):\n    """The arithmetic mean of a non-empty list."""\n'
             "    return sum(values) / len(values)\n"),
    "missing-class-docstring": Advice(
        why=_DOCSTRING_WHY,
        fix="Put a string right under the `class` line that says what one instance stands for.",
        bad="class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n",
        good='class Point:\n    """A point in the plane."""\n\n'
             "    def __init__(self, x, y):\n        self.x, self.y = x, y\n"),
    "missing-docstring": Advice(
        why=_DOCSTRING_WHY,
        fix="Add a docstring to the module, class or function the message points at.",
        bad="def mean(values):\n    return sum(values) / len(values)\n",
        good='def mean(values):\n    """The arithmetic mean of a non-empty list."""\n'
             "    return sum(values) / len(values)\n"),
    "line-too-long": Advice(
        why="Long lines are hard to read side by side and in diffs; the limit here is 100 "
            "characters.",
        fix="Break the line inside brackets (Python continues a line until they close), or "
            "give a long expression a name of its own.",
        bad='message = "Hello " + first_name + " " + last_name + ", you have " + str(count) + '
            '" new messages and " + str(tasks) + " tasks"\n',
        good='message = (f"Hello {first_name} {last_name}, you have {count} new messages "\n'
             '           f"and {tasks} tasks")\n'),
    "invalid-name": Advice(
        why="PEP 8 names tell what a name is at a glance: `snake_case` for functions and "
            "variables, `CamelCase` for classes, `UPPER_CASE` for module constants.",
        fix="Rename it in the style its kind expects (pylint's message says which). A name "
            "assigned at module level counts as a constant: write it in UPPER_CASE, or move "
            "the code into a function.",
        bad="def CalcTotal(Items):\n    return sum(Items)\n\nmaxSize = 10\n",
        good="def calc_total(items):\n    return sum(items)\n\nMAX_SIZE = 10\n"),
    "trailing-whitespace": Advice(
        why="Invisible spaces at line ends make noisy diffs: a line changes with no visible "
            "change.",
        fix="Delete the spaces at the end of the line; most editors can do it on save.",
        bad="total = 0   \n",
        good="total = 0\n"),
    "missing-final-newline": Advice(
        why="A text file ends with a newline; without it, tools that join or diff files show "
            "the last line as changed whenever a line is added after it.",
        fix="End the file with a newline (most editors have a setting for it).",
        bad="print('done')",
        good="print('done')\n"),
    "trailing-newlines": Advice(
        why="Blank lines at the end of a file are noise in every diff.",
        fix="Leave exactly one newline at the end of the file.",
        bad="print('done')\n\n\n",
        good="print('done')\n"),
    "unused-variable": Advice(
        why="A value computed and never used is wasted work, and often a sign that the code "
            "uses the wrong variable somewhere else.",
        fix="Delete the assignment, or use the value. For a value you must unpack but do not "
            "need, name it `_`.",
        bad="for index, name in enumerate(names):\n    print(name)\n",
        good="for name in names:\n    print(name)\n"),
    "unused-argument": Advice(
        why="A parameter the function ignores misleads callers into thinking it changes "
            "something.",
        fix="Remove the parameter, or use it. If a fixed signature requires it (a callback), "
            "prefix its name with `_`.",
        bad="def greet(name, greeting):\n    return f'Hello {name}'\n",
        good="def greet(name, greeting):\n    return f'{greeting} {name}'\n"),
    "redefined-outer-name": Advice(
        why="A local name that hides a name of the module makes it easy to use one while "
            "meaning the other.",
        fix="Rename the local variable or parameter.",
        bad="data = load()\n\n\ndef clean(data):\n    return [d for d in data if d]\n",
        good="data = load()\n\n\ndef clean(rows):\n    return [r for r in rows if r]\n"),
    "redefined-builtin": Advice(
        why="Naming a variable `list`, `sum`, `id` or `input` hides Python's own function for "
            "the rest of the scope: a later call to it fails in a confusing way.",
        fix="Choose another name (`values`, `total`, `user_id`).",
        bad="list = [3, 1, 2]\nsum = 0\n",
        good="numbers = [3, 1, 2]\ntotal = 0\n"),
    "syntax-error": Advice(
        why="Python cannot read the file, so it cannot run, and pylint cannot check anything "
            "else in it.",
        fix="Look at the line shown (and the one before it: a missing bracket or colon is "
            "often reported one line late). Run `python -m py_compile file.py` to see the "
            "same error locally.",
        bad="def greet(name)\n    print('Hello', name)\n",
        good="def greet(name):\n    print('Hello', name)\n"),
    "import-error": Advice(
        why="The imported module cannot be found, so the import fails when the code runs.",
        fix="Check the module's name and that the file is pushed; a module of this repo is "
            "found relative to the repository root.",
        bad="import numpyy\n",
        good="import numpy\n"),
    "no-member": Advice(
        why="The attribute does not exist on that object: the line raises AttributeError.",
        fix="Check the attribute's spelling and the object's type; a method of `str` is not "
            "a method of `list`.",
        bad="names = ['b', 'a']\nnames.sorted()\n",
        good="names = ['b', 'a']\nnames.sort()\n"),
    "no-value-for-parameter": Advice(
        why="The call leaves out an argument the function needs: it raises TypeError.",
        fix="Pass every required argument, or give the parameter a default.",
        bad="def area(width, height):\n    return width * height\n\narea(3)\n",
        good="def area(width, height):\n    return width * height\n\narea(3, 4)\n"),
    "too-many-function-args": Advice(
        why="The call passes more arguments than the function takes: it raises TypeError.",
        fix="Remove the extra argument, or add the parameter to the function.",
        bad="def square(x):\n    return x * x\n\nsquare(2, 3)\n",
        good="def square(x):\n    return x * x\n\nsquare(2)\n"),
    "used-before-assignment": Advice(
        why="The name is read before any value was given to it on this path: UnboundLocalError "
            "or NameError at run time.",
        fix="Give the variable a value before the `if`/`try` that may skip its assignment.",
        bad="if ok:\n    result = 'yes'\nprint(result)\n",
        good="result = 'no'\nif ok:\n    result = 'yes'\nprint(result)\n"),
    "not-callable": Advice(
        why="The code calls something that is not a function: TypeError at run time.",
        fix="Remove the parentheses, or call the function you meant.",
        bad="size = len(items)\nprint(size())\n",
        good="size = len(items)\nprint(size)\n"),
    "too-many-arguments": Advice(
        why="A function with many parameters is hard to call correctly and usually does more "
            "than one thing.",
        fix="Group parameters that belong together into one object (a dataclass), or split "
            "the function.",
        bad="def draw(x, y, width, height, colour, border, shadow):\n    ...\n",
        good="def draw(box, style):\n    ...\n"),
    "too-many-locals": Advice(
        why="Many local variables mean a long function that keeps a lot in the reader's head.",
        fix="Split the function into smaller ones, each with a name that says what it does.",
        bad="def report(rows):\n    a = ...\n    b = ...\n    # ... 16 more names\n",
        good="def report(rows):\n    totals = sum_columns(rows)\n"
             "    return format_table(totals)\n"),
    "too-many-branches": Advice(
        why="Many `if`/`elif` branches in one function are hard to follow and to test.",
        fix="Look up values in a dict instead of a chain of `elif`s, or move branches into "
            "functions of their own.",
        bad="if op == '+':\n    r = a + b\nelif op == '-':\n    r = a - b\nelif op == '*':\n"
            "    r = a * b\n# ...\n",
        good="import operator\n\nOPS = {'+': operator.add, '-': operator.sub, "
             "'*': operator.mul}\nr = OPS[op](a, b)\n"),
    "too-many-statements": Advice(
        why="A function with many statements does too much to be read, named or tested as one "
            "unit.",
        fix="Split it into steps, each a function with a name that says what it does.",
        bad="def main():\n    # 60 lines of reading, computing and printing\n",
        good="def main():\n    data = read_input()\n    result = compute(data)\n"
             "    print_result(result)\n"),
    "too-few-public-methods": Advice(
        why="A class with one method and no other behaviour is often just a function in "
            "disguise.",
        fix="Use a function, or a dataclass if the class only holds data.",
        bad="class Greeter:\n    def greet(self, name):\n        return f'Hello {name}'\n",
        good="def greet(name):\n    return f'Hello {name}'\n"),
    "no-else-return": Advice(
        why="An `else` after a `return` adds indentation without adding meaning.",
        fix="Drop the `else:` and dedent its body.",
        bad="def sign(x):\n    if x < 0:\n        return -1\n    else:\n        return 1\n",
        good="def sign(x):\n    if x < 0:\n        return -1\n    return 1\n"),
    "inconsistent-return-statements": Advice(
        why="Some paths return a value and others fall off the end and return None: callers "
            "get None when they do not expect it.",
        fix="Return a value on every path (explicitly `return None` if that is meant).",
        bad="def find(items, wanted):\n    for item in items:\n        if item == wanted:\n"
            "            return item\n",
        good="def find(items, wanted):\n    for item in items:\n        if item == wanted:\n"
             "            return item\n    return None\n"),
    "consider-using-f-string": Advice(
        why="f-strings put each value where it appears in the text: easier to read than `%` "
            "or `.format()`.",
        fix="Write the string as an f-string.",
        bad="print('%s is %d years old' % (name, age))\n",
        good="print(f'{name} is {age} years old')\n"),
    "f-string-without-interpolation": Advice(
        why="An f-string without `{}` is a plain string with a misleading prefix, often a "
            "sign that a placeholder was forgotten.",
        fix="Add the missing `{value}`, or drop the `f`.",
        bad="print(f'Total: total')\n",
        good="print(f'Total: {total}')\n"),
    "wrong-import-order": Advice(
        why="Imports grouped as standard library, then third-party, then your own modules "
            "show at a glance what the code depends on.",
        fix="Reorder the imports: stdlib first, then installed packages, then local modules, "
            "each group separated by a blank line.",
        bad="import requests\nimport os\n",
        good="import os\n\nimport requests\n"),
    "wrong-import-position": Advice(
        why="Imports in the middle of the code are easy to miss and may run in surprising "
            "order.",
        fix="Move the import to the top of the file, right after the module docstring.",
        bad='"""Tool."""\nprint("start")\nimport sys\n',
        good='"""Tool."""\nimport sys\n\nprint("start")\n'),
    "ungrouped-imports": Advice(
        why="Imports from one package scattered over the import block are harder to review.",
        fix="Put the imports of the same package next to each other.",
        bad="import os.path\nimport sys\nimport os\n",
        good="import os\nimport os.path\nimport sys\n"),
    "broad-exception-caught": Advice(
        why="`except Exception` also catches the bugs you did not expect (a typo's NameError) "
            "and hides them.",
        fix="Catch the exceptions the code can actually raise (`ValueError`, `OSError`).",
        bad="try:\n    value = int(text)\nexcept Exception:\n    value = 0\n",
        good="try:\n    value = int(text)\nexcept ValueError:\n    value = 0\n"),
    "bare-except": Advice(
        why="A bare `except:` catches everything, Ctrl-C and exit included, and hides bugs.",
        fix="Name the exception you expect.",
        bad="try:\n    value = int(text)\nexcept:\n    value = 0\n",
        good="try:\n    value = int(text)\nexcept ValueError:\n    value = 0\n"),
    "unspecified-encoding": Advice(
        why="Without `encoding=`, `open()` uses the machine's locale: the same file reads "
            "differently on another computer.",
        fix="Pass `encoding='utf-8'` when opening text files.",
        bad="with open('data.txt') as f:\n    text = f.read()\n",
        good="with open('data.txt', encoding='utf-8') as f:\n    text = f.read()\n"),
    "consider-using-with": Advice(
        why="A file or lock opened without `with` stays open if an exception happens before "
            "it is closed.",
        fix="Open it in a `with` statement.",
        bad="f = open('data.txt', encoding='utf-8')\ntext = f.read()\nf.close()\n",
        good="with open('data.txt', encoding='utf-8') as f:\n    text = f.read()\n"),
    "dangerous-default-value": Advice(
        why="A default list or dict is created once and shared by every call: items added in "
            "one call show up in the next.",
        fix="Default to None and create the list inside the function.",
        bad="def add(item, items=[]):\n    items.append(item)\n    return items\n",
        good="def add(item, items=None):\n    items = [] if items is None else items\n"
             "    items.append(item)\n    return items\n"),
    "global-statement": Advice(
        why="A function that changes a global variable has effects nobody sees from its "
            "call; such code is hard to test and reuse.",
        fix="Pass the value in as an argument and return the new value.",
        bad="count = 0\n\n\ndef bump():\n    global count\n    count += 1\n",
        good="def bump(count):\n    return count + 1\n"),
    "pointless-string-statement": Advice(
        why="A string on a line of its own (not a docstring) does nothing; it is often used "
            "as a comment, which readers and tools do not treat as one.",
        fix="Make it a `#` comment, or delete it.",
        bad="x = 1\n'''set x'''\n",
        good="x = 1  # set x\n"),
    "unnecessary-pass": Advice(
        why="`pass` is only needed where a block would otherwise be empty.",
        fix="Delete the `pass`.",
        bad='def stub():\n    """Not written yet."""\n    pass\n',
        good='def stub():\n    """Not written yet."""\n'),
    "multiple-statements": Advice(
        why="Several statements on one line are easy to misread and hide the structure.",
        fix="Put each statement on its own line.",
        bad="if ready: start()\n",
        good="if ready:\n    start()\n"),
    "superfluous-parens": Advice(
        why="Parentheses after `if`, `not`, `return` or `in` are not needed and make the code "
            "look like a function call.",
        fix="Remove the parentheses.",
        bad="if (x > 3):\n    print(x)\n",
        good="if x > 3:\n    print(x)\n"),
    "consider-using-enumerate": Advice(
        why="`range(len(items))` and indexing hide what the loop is about: the items.",
        fix="Loop with `enumerate(items)` when you need the index, else over the items.",
        bad="for i in range(len(names)):\n    print(i, names[i])\n",
        good="for i, name in enumerate(names):\n    print(i, name)\n"),
    "singleton-comparison": Advice(
        why="`== None` and `== True` can be fooled by objects that define `==`; `is` cannot.",
        fix="Write `is None`, or test the value's truth directly.",
        bad="if value == None:\n    pass\n",
        good="if value is None:\n    pass\n"),
    "bad-indentation": Advice(
        why="Python code is indented with 4 spaces; other widths make the structure hard to "
            "see.",
        fix="Indent with 4 spaces per level (let your editor do it).",
        bad="if ready:\n  start()\n",
        good="if ready:\n    start()\n"),
    "unnecessary-semicolon": Advice(
        why="Python ends statements at the end of the line; a `;` is noise.",
        fix="Delete the semicolon.",
        bad="total = 0;\n",
        good="total = 0\n"),
    "consider-using-in": Advice(
        why="A chain of `==` joined by `or` is longer and easier to get wrong than `in`.",
        fix="Test membership in a tuple.",
        bad="if colour == 'red' or colour == 'blue':\n    pass\n",
        good="if colour in ('red', 'blue'):\n    pass\n"),
}

# The advice for a message without an example of its own, by pylint category.
BY_TYPE: dict[str, Advice] = {
    "fatal": Advice(
        why="pylint could not check this file at all: none of its other messages are known.",
        fix="Make the file readable to Python first (run `python -m py_compile file.py`), "
            "then push again."),
    "error": Advice(
        why="An error is most likely a bug: the line fails (or does the wrong thing) when it "
            "runs. A file with an error fails its check whatever its score.",
        fix="Read the message and the line it points at; run the code path to see the "
            "failure; fix the code rather than hiding the message."),
    "warning": Advice(
        why="A warning points at code that runs but probably does not do what was meant, or "
            "that will break easily.",
        fix="Read the message and the line it points at, and change the code so its intent "
            "is clear."),
    "refactor": Advice(
        why="A refactor message says the code works but is more complicated than it needs to "
            "be: harder to read, test and change.",
        fix="Simplify the code the message points at: split long functions, drop needless "
            "branches, use the simpler construct pylint names."),
    "convention": Advice(
        why="A convention message is about style (PEP 8, docstrings, names): code that looks "
            "the way Python readers expect is faster to read.",
        fix="Follow the convention the message names; an editor with a formatter fixes many "
            "of them for you."),
    "info": Advice(
        why="An informational message tells you about the check itself, not about a problem "
            "in the code.",
        fix="Nothing needs fixing; read it to understand what pylint did."),
}


def advice(symbol: str, kind: str) -> tuple[Advice, bool]:
    """The advice for a message, and whether it is written for that message (else: its
    category's)."""
    found = EXAMPLES.get(symbol)
    if found is not None:
        return found, True
    return BY_TYPE.get(kind, BY_TYPE["warning"]), False
