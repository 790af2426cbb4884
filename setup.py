"""Install voxflow: `pip install -e .[test]` (CPU) or `pip install -e .[gpu]` (CUDA wheels)."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "platform/voxflow/__init__.py").read_text()).group(1)

# Each built-in application declares its console script (CONSOLE_SCRIPT = "net_segment"): one entry
# point serves them all, choosing the application by the script's name.
APPLICATION_SCRIPTS = sorted({m.group(1) for path in (HERE / "platform/voxflow/applications").glob("*.py")
                              for m in re.finditer(r'^    CONSOLE_SCRIPT = "([a-z_]+)"', path.read_text(encoding="utf-8"),
                                                   re.MULTILINE)})

# Each zoo entry folder is listed as a data-only package so setuptools ships it without warnings.
ZOO_ENTRIES = sorted(f"voxflow.model_zoo.{p.name}" for p in (HERE / "model_zoo").iterdir() if p.is_dir()
                     and not p.name.startswith((".", "_")))

setup(
    name="voxflow",
    version=VERSION,
    description="Config-driven deep learning for medical imaging on TensorFlow 2 / Keras 3",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    # model_zoo/ ships inside the package as voxflow.model_zoo, so net_download works offline.
    package_dir={"": "platform", "voxflow.model_zoo": "model_zoo"},
    packages=[*find_packages(where="platform"), "voxflow.model_zoo", *ZOO_ENTRIES],
    package_data={"voxflow.model_zoo": ["index.yaml", "**/*"], **{entry: ["*"] for entry in ZOO_ENTRIES}},
    include_package_data=True,
    install_requires=[
        "tensorflow>=2.16",
        "nibabel>=5.0",
        "SimpleITK>=2.2",
        "numpy>=1.24",
        "scipy>=1.10",
        "pyyaml>=6.0",
        "tensorboard>=2.16",
        "tqdm>=4.60",
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-timeout>=2"],
        "gpu": ["tensorflow[and-cuda]>=2.16"],
        "plot": ["matplotlib>=3.7"],
        # Peers for side-by-side benchmarks only; never imported by voxflow itself.
        "bench": ["torch==2.13.0", "torchio==1.2.1", "monai==1.6.1", "pymia==0.3.4", "surface-distance==0.1",
                  "nnunetv2==2.8.1", "antspyx==0.6.3"],
        # ANTs (N4, Atropos, SyN) for the data builders' classical labels and baselines; never at run time.
        "data": ["antspyx==0.6.3"],
    },
    entry_points={
        "console_scripts": [
            *(f"{script}=voxflow.cli.main:application_script" for script in APPLICATION_SCRIPTS),
            "net_run=voxflow.cli.main:net_run",
            "net_evaluate=voxflow.cli.evaluate:main",
            "net_transform=voxflow.cli.transform:main",
            "net_zoo=voxflow.cli.zoo:net_zoo",
            "net_download=voxflow.cli.zoo:net_download",
        ]
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
        "Topic :: Scientific/Engineering :: Image Processing",
    ],
)
