from sassid.cli import main

raise SystemExit(main())
