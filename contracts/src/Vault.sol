// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IERC20 {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function balanceOf(address account) external view returns (uint256);
}

/// @title The venue's vault: users' collateral, netted batch settlement, and an exit that needs nobody.
/// @notice Amounts are token units (6 decimals for USDC). The operator settles batches of net cash deltas
/// that sum to zero, with a Merkle root committing to every account's state (collateral, positions,
/// equity at the batch's marks). A withdrawal request the operator leaves unserved for `exitTimeout`
/// lets anyone freeze the vault; then each account exits once with a proof of its equity in the last
/// root, plus what it deposited after that batch, paid pro rata if the claims exceed the vault's tokens.
/// No operator, guardian, owner or oracle can block that path.
/// @dev Convention the operator keeps: an account's equity in a root never reflects a withdrawal that
/// is still unserved on chain (the venue debits its ledger in the batch that serves it), so an exit
/// claim of root equity plus later deposits covers every token the account is owed.
contract Vault {
    // ---- configuration ------------------------------------------------------------------------
    IERC20 public immutable token;
    uint256 public immutable exitTimeout; // seconds a request may wait before anyone may freeze

    address public owner; // rotates operator and guardian
    address public operator; // settles batches, serves withdrawals
    address public guardian; // may pause batches and deposits; has no power over exits

    // ---- state ---------------------------------------------------------------------------------
    mapping(address => uint256) public balance; // collateral on chain: deposits + settled deltas - withdrawals
    uint64 public lastBatchId;
    bytes32 public stateRoot; // root of the last batch's account states
    bytes32 public marksHash; // hash of the marks the last batch valued positions at
    uint256 public committedEquity; // sum of the (non-negative) equities under stateRoot
    uint256 public depositsAfterBatch; // deposited since the last batch (not yet in any root)
    mapping(address => uint256) public depositedAfter; // per account, valid while depositBatch == lastBatchId
    mapping(address => uint64) public depositBatch;

    struct Withdrawal {
        address account;
        uint96 amount;
        uint64 requestedAt;
        bool served;
    }

    mapping(uint256 => Withdrawal) public withdrawals;
    uint256 public nextWithdrawalId = 1;
    // Requested, not yet served. A request holds no escrow: it stays in `balance` until a batch serves
    // it, so the batches' deltas (the ledger's cash moves) always apply whatever requests wait.
    uint256 public pendingWithdrawals;
    mapping(address => uint256) public pendingOf; // per account
    mapping(address => uint256) public nonces; // EIP-712 withdrawal nonces

    bool public paused;
    bool public frozen;
    uint256 public fundsAtFreeze; // tokens held when frozen
    uint256 public claimsAtFreeze; // committedEquity + depositsAfterBatch when frozen
    mapping(address => bool) public exited;

    uint256 private locked = 1;

    // ---- EIP-712 -------------------------------------------------------------------------------
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant WITHDRAWAL_TYPEHASH =
        keccak256("Withdrawal(address account,uint256 amount,uint256 nonce,uint256 deadline)");
    uint256 private immutable cachedChainId;
    bytes32 private immutable cachedDomainSeparator;

    // ---- events --------------------------------------------------------------------------------
    event Deposited(address indexed account, address indexed from, uint256 amount, uint256 balance);
    event BatchSettled(
        uint64 indexed batchId, bytes32 stateRoot, bytes32 marksHash, uint256 committedEquity, uint256 accounts,
        uint256 withdrawalsServed
    );
    event WithdrawalRequested(uint256 indexed id, address indexed account, uint256 amount);
    event WithdrawalServed(uint256 indexed id, address indexed account, uint256 amount);
    event WithdrawalRejected(uint256 indexed id, address indexed account, uint256 amount, uint256 covered);
    event VaultFrozen(address indexed by, uint256 indexed withdrawalId, uint256 funds, uint256 claims);
    event Exited(address indexed account, uint256 claim, uint256 paid);
    event OperatorChanged(address operator);
    event GuardianChanged(address guardian);
    event OwnerChanged(address owner);
    event Paused(bool paused);

    // ---- errors --------------------------------------------------------------------------------
    error NotOwner();
    error NotOperator();
    error NotGuardian();
    error IsPaused();
    error IsFrozen();
    error NotFrozen();
    error Reentrant();
    error ZeroAmount(); // or an amount beyond 2**96
    error BadBatchId(uint64 expected, uint64 got);
    error LengthMismatch();
    error NotConserved(int256 sum);
    error NegativeBalance(address account);
    error InsufficientBalance(uint256 available, uint256 needed);
    error UnknownWithdrawal(uint256 id);
    error AlreadyServed(uint256 id);
    error TooEarly(uint256 allowedFrom);
    error BadSignature();
    error Expired();
    error BadProof();
    error AlreadyExited();
    error CoveredByEquity(uint256 covered, uint256 amount);
    error TransferFailed();

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    modifier nonReentrant() {
        if (locked != 1) revert Reentrant();
        locked = 2;
        _;
        locked = 1;
    }

    constructor(IERC20 token_, uint256 exitTimeout_, address operator_, address guardian_) {
        token = token_;
        exitTimeout = exitTimeout_;
        owner = msg.sender;
        operator = operator_;
        guardian = guardian_;
        cachedChainId = block.chainid;
        cachedDomainSeparator = _buildDomainSeparator();
    }

    // ---- roles ---------------------------------------------------------------------------------

    function setOperator(address operator_) external onlyOwner {
        operator = operator_;
        emit OperatorChanged(operator_);
    }

    function setGuardian(address guardian_) external onlyOwner {
        guardian = guardian_;
        emit GuardianChanged(guardian_);
    }

    function transferOwnership(address owner_) external onlyOwner {
        owner = owner_;
        emit OwnerChanged(owner_);
    }

    /// @notice The guardian may stop new batches and deposits (never requests, freezes or exits).
    function setPaused(bool paused_) external {
        if (msg.sender != guardian) revert NotGuardian();
        paused = paused_;
        emit Paused(paused_);
    }

    // ---- deposits ------------------------------------------------------------------------------

    function deposit(uint256 amount) external {
        _deposit(msg.sender, amount);
    }

    function depositFor(address account, uint256 amount) external {
        _deposit(account, amount);
    }

    function _deposit(address account, uint256 amount) private nonReentrant {
        if (paused) revert IsPaused();
        if (frozen) revert IsFrozen();
        if (amount == 0) revert ZeroAmount();
        uint256 newBalance = balance[account] + amount;
        balance[account] = newBalance;
        if (depositBatch[account] != lastBatchId) {
            depositBatch[account] = lastBatchId;
            depositedAfter[account] = 0;
        }
        depositedAfter[account] += amount;
        depositsAfterBatch += amount;
        emit Deposited(account, msg.sender, amount, newBalance);
        if (!token.transferFrom(msg.sender, address(this), amount)) revert TransferFailed();
    }

    // ---- batches -------------------------------------------------------------------------------

    /// @notice Settle one batch: net cash deltas (summing to zero, fees to the fee account included),
    /// withdrawals to serve, and the commitment to every account's state after the batch. Deltas apply
    /// first, then each served withdrawal leaves its account's balance.
    function settleBatch(
        uint64 batchId,
        address[] calldata accounts,
        int256[] calldata deltas,
        uint256[] calldata serve,
        bytes32 root,
        bytes32 marks,
        uint256 equity
    ) external nonReentrant {
        if (msg.sender != operator) revert NotOperator();
        if (frozen) revert IsFrozen();
        if (paused) revert IsPaused();
        if (batchId != lastBatchId + 1) revert BadBatchId(lastBatchId + 1, batchId);
        if (accounts.length != deltas.length) revert LengthMismatch();
        int256 sum;
        for (uint256 i; i < accounts.length; ++i) {
            int256 delta = deltas[i];
            sum += delta;
            address account = accounts[i];
            int256 updated = int256(balance[account]) + delta;
            if (updated < 0) revert NegativeBalance(account);
            balance[account] = uint256(updated);
        }
        if (sum != 0) revert NotConserved(sum);
        lastBatchId = batchId;
        stateRoot = root;
        marksHash = marks;
        committedEquity = equity;
        depositsAfterBatch = 0;
        uint256 n = serve.length;
        Withdrawal[] memory paying = new Withdrawal[](n);
        for (uint256 i; i < n; ++i) {
            uint256 id = serve[i];
            Withdrawal storage w = withdrawals[id];
            if (w.account == address(0)) revert UnknownWithdrawal(id);
            if (w.served) revert AlreadyServed(id);
            w.served = true;
            address account = w.account;
            uint256 held = balance[account];
            if (held < w.amount) revert NegativeBalance(account);
            balance[account] = held - w.amount;
            pendingOf[account] -= w.amount;
            pendingWithdrawals -= w.amount;
            paying[i] = w;
            emit WithdrawalServed(id, w.account, w.amount);
        }
        emit BatchSettled(batchId, root, marks, equity, accounts.length, n);
        for (uint256 i; i < n; ++i) {
            if (!token.transfer(paying[i].account, paying[i].amount)) revert TransferFailed();
        }
    }

    // ---- withdrawals ---------------------------------------------------------------------------

    /// @notice Ask for `amount` on chain; the operator serves it in a batch after its margin check.
    function requestWithdrawal(uint256 amount) external returns (uint256) {
        return _request(msg.sender, amount);
    }

    /// @notice The operator submits a withdrawal the account signed (EIP-712 `Withdrawal`).
    function requestWithdrawalWithSig(
        address account,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (uint256) {
        if (block.timestamp > deadline) revert Expired();
        uint256 nonce = nonces[account];
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                domainSeparator(),
                keccak256(abi.encode(WITHDRAWAL_TYPEHASH, account, amount, nonce, deadline))
            )
        );
        // Reject malleable signatures (upper-half s) as well as wrong signers.
        if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0) revert BadSignature();
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0) || signer != account) revert BadSignature();
        nonces[account] = nonce + 1;
        return _request(account, amount);
    }

    function _request(address account, uint256 amount) private returns (uint256 id) {
        if (frozen) revert IsFrozen();
        if (amount == 0 || amount > type(uint96).max) revert ZeroAmount();
        uint256 held = balance[account];
        uint256 asked = pendingOf[account] + amount;
        if (held < asked) revert InsufficientBalance(held, asked);
        pendingOf[account] = asked;
        pendingWithdrawals += amount;
        id = nextWithdrawalId++;
        withdrawals[id] = Withdrawal(account, uint96(amount), uint64(block.timestamp), false);
        emit WithdrawalRequested(id, account, amount);
    }

    /// @notice The operator refuses a request the account cannot cover, and only such a one: it proves
    /// the account's leaf in the current root, and the amount must exceed what the account may withdraw
    /// there (its collateral, capped at its equity) plus what it deposited after the batch.
    function rejectWithdrawal(
        uint256 id,
        uint256 collateral,
        uint256 equity,
        bytes32 positionsHash,
        bytes32[] calldata proof
    ) external nonReentrant {
        if (msg.sender != operator) revert NotOperator();
        if (frozen) revert IsFrozen();
        _release(id);
        _checkRejection(id, collateral, equity, positionsHash, proof);
    }

    /// Close an unserved request: it can no longer be served, nor freeze the vault.
    function _release(uint256 id) private {
        Withdrawal storage w = withdrawals[id];
        if (w.account == address(0)) revert UnknownWithdrawal(id);
        if (w.served) revert AlreadyServed(id);
        w.served = true;
        pendingOf[w.account] -= w.amount;
        pendingWithdrawals -= w.amount;
    }

    /// Revert unless the released request `id` exceeds what its account may withdraw in the current root.
    function _checkRejection(
        uint256 id,
        uint256 collateral,
        uint256 equity,
        bytes32 positionsHash,
        bytes32[] calldata proof
    ) private {
        Withdrawal storage w = withdrawals[id];
        address account = w.account;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, collateral, equity, positionsHash))));
        if (lastBatchId == 0 || !_verify(proof, leaf)) revert BadProof();
        uint256 covered = (collateral < equity ? collateral : equity)
            + (depositBatch[account] == lastBatchId ? depositedAfter[account] : 0);
        if (w.amount <= covered) revert CoveredByEquity(covered, w.amount);
        emit WithdrawalRejected(id, account, w.amount, covered);
    }

    // ---- the escape hatch ----------------------------------------------------------------------

    /// @notice Anyone may freeze the vault once a withdrawal request has waited `exitTimeout` unserved.
    function freeze(uint256 withdrawalId) external {
        if (frozen) revert IsFrozen();
        Withdrawal storage w = withdrawals[withdrawalId];
        if (w.account == address(0)) revert UnknownWithdrawal(withdrawalId);
        if (w.served) revert AlreadyServed(withdrawalId);
        uint256 allowedFrom = uint256(w.requestedAt) + exitTimeout;
        if (block.timestamp < allowedFrom) revert TooEarly(allowedFrom);
        frozen = true;
        fundsAtFreeze = token.balanceOf(address(this));
        claimsAtFreeze = committedEquity + depositsAfterBatch;
        emit VaultFrozen(msg.sender, withdrawalId, fundsAtFreeze, claimsAtFreeze);
    }

    /// @notice Exit once: equity proven in the last root, plus deposits made after that batch. If the
    /// claims exceed the tokens held at the freeze, every claim is paid the same fraction of itself.
    /// The leaf is keccak256(bytes.concat(keccak256(abi.encode(account, collateral, equity,
    /// positionsHash)))); pairs hash sorted (OpenZeppelin's MerkleProof convention).
    function exit(uint256 collateral, uint256 equity, bytes32 positionsHash, bytes32[] calldata proof)
        external
        nonReentrant
        returns (uint256 paid)
    {
        if (!frozen) revert NotFrozen();
        if (exited[msg.sender]) revert AlreadyExited();
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(msg.sender, collateral, equity, positionsHash))));
        if (lastBatchId == 0) {
            if (proof.length != 0 || equity != 0) revert BadProof(); // no root yet: deposits only
        } else if (!_verify(proof, leaf)) {
            revert BadProof();
        }
        exited[msg.sender] = true;
        uint256 claim = equity + (depositBatch[msg.sender] == lastBatchId ? depositedAfter[msg.sender] : 0);
        paid = claimsAtFreeze > fundsAtFreeze ? (claim * fundsAtFreeze) / claimsAtFreeze : claim;
        // Never more than is left: a root whose leaves exceed its committed total must not make the
        // last exits revert (they are paid what remains instead).
        uint256 left = token.balanceOf(address(this));
        if (paid > left) paid = left;
        emit Exited(msg.sender, claim, paid);
        if (paid > 0 && !token.transfer(msg.sender, paid)) revert TransferFailed();
    }

    function _verify(bytes32[] calldata proof, bytes32 leaf) private view returns (bool) {
        bytes32 node = leaf;
        for (uint256 i; i < proof.length; ++i) {
            bytes32 sibling = proof[i];
            node = node < sibling
                ? keccak256(abi.encodePacked(node, sibling))
                : keccak256(abi.encodePacked(sibling, node));
        }
        return node == stateRoot;
    }

    // ---- EIP-712 domain ------------------------------------------------------------------------

    function domainSeparator() public view returns (bytes32) {
        return block.chainid == cachedChainId ? cachedDomainSeparator : _buildDomainSeparator();
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("VenueVault"), keccak256("1"), block.chainid, address(this))
        );
    }
}
