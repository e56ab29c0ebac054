from layerlab.cli import main

raise SystemExit(main())
