from minsheng.cli import main

raise SystemExit(main())
